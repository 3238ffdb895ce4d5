"""The OpenAPI 3 description served at `/api/openapi.json` (docs/http-api.md in machine form).

A test checks that its paths and methods are exactly the routes the application registers.
"""

from __future__ import annotations

from typing import Any

from . import openapi_models, pronunciations_api

_ERROR = {"$ref": "#/components/schemas/Error"}
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json_content(_ERROR)}


_VOICE_ID_PARAM = {
    "name": "voice_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"},
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "code"],
        "properties": {
            "error": {"type": "string"},
            "code": {"type": "string"},
            "report": {"$ref": "#/components/schemas/Report"},
        },
    },
    "Report": {
        "type": "object",
        "properties": {
            "accepted": {"type": "boolean"},
            "duration_s": {"type": "number"},
            "snr_db": {"type": "number"},
            "clipping_ratio": {"type": "number"},
            "loudness_lufs": {"type": "number"},
            "speech_ratio": {"type": "number"},
            "ref_free": {"type": "boolean"},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "reasons": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Style": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "reference_text": {"type": "string"},
            "reference_language": {"type": "string"},
            "quality": {"$ref": "#/components/schemas/Report"},
        },
    },
    "Voice": {
        "type": "object",
        "required": ["id", "name", "languages", "kind", "styles", "default_style", "revision"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "languages": {"type": "array", "items": {"type": "string"}},
            "kind": {"type": "string", "enum": ["gpt-sovits", "piper"]},
            "model_id": {"type": "string"},
            "styles": {"type": "array", "items": {"$ref": "#/components/schemas/Style"}},
            "default_style": {"type": "string"},
            "revision": {"type": "string"},
            "created": {"type": "string"},
            "builtin": {"type": "boolean"},
            "consent": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "statement": {"type": "string"},
                    "recorded_at": {"type": "string"},
                    "recorded_by": {"type": "string"},
                },
            },
        },
    },
    "Health": {
        "type": "object",
        "properties": {
            "status": {"type": "string"},
            "version": {"type": "string"},
            "server_id": {"type": "string"},
            "voices": {"type": "integer"},
            "models_loaded": {"type": "integer"},
            "wyoming_port": {"type": "integer"},
        },
    },
    "TtsRequest": {
        "type": "object",
        "required": ["text"],
        "properties": {
            "text": {"type": "string"},
            "voice": {"type": "string"},
            "style": {"type": "string"},
            "speed": {"type": "number", "minimum": 0.5, "maximum": 2.0},
            "seed": {"type": "integer", "minimum": 0},
            "language": {"type": "string"},
        },
    },
    "Enrollment": {
        "type": "object",
        "required": ["name", "audio", "language", "consent"],
        "properties": {
            "name": {"type": "string", "maxLength": 80},
            "audio": {"type": "string", "format": "binary"},
            "text": {
                "type": "string",
                "description": "transcript of the clip; empty = ref-free (lower quality)",
            },
            "language": {"type": "string"},
            "consent": {"type": "string"},
            "style": {"type": "string", "default": "default"},
            "voice_id": {"type": "string", "description": "add a style to this existing voice"},
            "model_id": {"type": "string", "description": "the model a new voice uses (default: best installed)"},
            "force": {"type": "string", "enum": ["true", "false"]},
            "start_s": {"type": "number"},
            "end_s": {"type": "number"},
        },
    },
}


def openapi_document(version: str) -> dict[str, Any]:
    """The whole OpenAPI 3.0 document."""
    voice_ref = {"$ref": "#/components/schemas/Voice"}
    unauthorized = _error("missing or wrong admin token (code `unauthorized`)")
    paths: dict[str, Any] = {
        "/api/health": {
            "get": {
                "summary": "Server status",
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": _json_content({"$ref": "#/components/schemas/Health"}),
                    }
                },
            }
        },
        "/api/auth": {
            "get": {
                "summary": "Check an admin token",
                "security": _BEARER,
                "responses": {
                    "200": {
                        "description": "the token is valid",
                        "content": _json_content(
                            {"type": "object", "properties": {"ok": {"type": "boolean"}}}
                        ),
                    },
                    "401": unauthorized,
                },
            }
        },
        "/api/voices": {
            "get": {
                "summary": "List voices and skipped folders",
                "responses": {
                    "200": {
                        "description": "voices",
                        "content": _json_content(
                            {
                                "type": "object",
                                "properties": {
                                    "voices": {"type": "array", "items": voice_ref},
                                    "skipped": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "path": {"type": "string"},
                                                "reason": {"type": "string"},
                                            },
                                        },
                                    },
                                },
                            }
                        ),
                    }
                },
            },
            "post": {
                "summary": "Enroll a voice (or add a style to one)",
                "security": _BEARER,
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {"schema": {"$ref": "#/components/schemas/Enrollment"}}
                    },
                },
                "responses": {
                    "201": {
                        "description": "enrolled",
                        "content": _json_content(
                            {
                                "type": "object",
                                "properties": {
                                    "voice": voice_ref,
                                    "report": {"$ref": "#/components/schemas/Report"},
                                },
                            }
                        ),
                    },
                    "400": _error("a field is missing or invalid"),
                    "401": unauthorized,
                    "404": _error("voice_id names no voice"),
                    "408": _error("upload too slow"),
                    "413": _error("upload too large"),
                    "409": _error("no cloning model is installed yet (code `no-model`): install one first"),
                    "415": _error("not an audio file"),
                    "422": _error("the clip failed the quality checks (code `rejected`, with `report`)"),
                },
            },
        },
        "/api/voices/{voice_id}": {
            "parameters": [_VOICE_ID_PARAM],
            "get": {
                "summary": "One voice",
                "responses": {
                    "200": {"description": "the voice", "content": _json_content(voice_ref)},
                    "400": _error("not a valid id"),
                    "404": _error("no such voice (code `unknown-voice`)"),
                },
            },
            "patch": {
                "summary": "Rename a voice",
                "security": _BEARER,
                "requestBody": {
                    "required": True,
                    "content": _json_content(
                        {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
                    ),
                },
                "responses": {
                    "200": {"description": "renamed", "content": _json_content(voice_ref)},
                    "400": _error("invalid name"),
                    "401": unauthorized,
                    "404": _error("no such voice"),
                },
            },
            "delete": {
                "summary": "Delete a voice",
                "security": _BEARER,
                "responses": {
                    "204": {"description": "deleted"},
                    "401": unauthorized,
                    "404": _error("no such voice"),
                    "409": _error("the built-in voice cannot be deleted (code `builtin`)"),
                },
            },
        },
        "/api/tts": {
            "post": {
                "summary": "Speak text, as a WAV file",
                "requestBody": {
                    "required": True,
                    "content": _json_content({"$ref": "#/components/schemas/TtsRequest"}),
                },
                "responses": {
                    "200": {
                        "description": "s16le mono WAV",
                        "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "400": _error("bad request, empty or too long text"),
                    "404": _error("unknown voice or style"),
                    "503": _error("busy"),
                    "504": _error("timeout"),
                    "500": _error("engine error"),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {"description": "OpenAPI 3", "content": _json_content({"type": "object"})}
                },
            }
        },
        "/": {
            "get": {
                "summary": "The web page",
                "responses": {
                    "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
                },
            }
        },
        "/static/{name}": {
            "get": {
                "summary": "The web page's script and style sheet",
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["page.js", "app.js", "models.js", "style.css"]},
                    }
                ],
                "responses": {"200": {"description": "file"}, "404": _error("no such file")},
            }
        },
    }
    paths.update(pronunciations_api.openapi_paths(unauthorized, _error("not a JSON object (code `bad-request`)")))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "edge-tts-clone admin API",
            "version": version,
            "description": "Voice management, model installs and test synthesis. Writes need the admin token from "
            "<data>/admin_token. Speech for Home Assistant goes over Wyoming, not HTTP.",
        },
        "paths": {**paths, **openapi_models.paths()},
        "components": {
            "schemas": {**_SCHEMAS, **openapi_models.SCHEMAS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
