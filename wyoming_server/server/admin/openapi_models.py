"""The OpenAPI description of `/api/models` and `/api/jobs` (merged into `openapi.py`'s document)."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_JOB = {"$ref": "#/components/schemas/Job"}
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_ID_SCHEMA = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ERROR)}


SCHEMAS: dict[str, Any] = {
    "Job": {
        "type": "object",
        "required": ["id", "kind", "model_id", "state", "phase", "progress", "revision"],
        "properties": {
            "id": {"type": "string"},
            "kind": {"type": "string", "enum": ["install-model", "import-fine-tune"]},
            "model_id": {"type": "string"},
            "state": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
            "phase": {
                "type": "string",
                "enum": ["waiting", "downloading", "converting", "enrolling", "done"],
            },
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            "message": {"type": "string"},
            "error": {"type": "string", "nullable": True},
            "code": {"type": "string", "nullable": True},
            "created": {"type": "string"},
            "updated": {"type": "string"},
            "revision": {"type": "integer", "description": "bumped at every change; pass it as `after`"},
            "download_bytes": {"type": "integer", "nullable": True},
            "disk_bytes": {"type": "integer", "nullable": True},
            "voice_id": {"type": "string", "nullable": True},
            "report": {"$ref": "#/components/schemas/Report"},
            "peak_rss_mb": {"type": "number", "nullable": True},
        },
    },
    "SpacePlan": {
        "type": "object",
        "properties": {
            "model": {"type": "string"},
            "installed": {"type": "boolean"},
            "download_bytes": {"type": "integer", "nullable": True},
            "disk_bytes": {"type": "integer", "nullable": True},
            "free_bytes": {"type": "integer"},
            "enough_space": {"type": "boolean", "nullable": True},
            "files": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string"},
                        "bytes": {"type": "integer", "nullable": True},
                        "on_disk": {"type": "integer"},
                    },
                },
            },
        },
    },
    "FineTune": {
        "type": "object",
        "required": ["gpt", "sovits"],
        "properties": {
            "gpt": {"type": "string", "format": "binary", "description": "the GPT .ckpt"},
            "sovits": {"type": "string", "format": "binary", "description": "the SoVITS .pth"},
            "model_id": {"type": "string", "description": "default: the slug of `name` + '-ft'"},
            "replace": {"type": "string", "enum": ["true", "false"]},
            "name": {"type": "string", "maxLength": 80},
            "audio": {"type": "string", "format": "binary", "description": "a clip: enroll `name` with the model"},
            "text": {"type": "string"},
            "language": {"type": "string"},
            "consent": {"type": "string"},
            "style": {"type": "string"},
            "force": {"type": "string", "enum": ["true", "false"]},
        },
    },
}


def paths() -> dict[str, Any]:
    """The paths of the model and job routes."""
    unauthorized = _error("missing or wrong admin token (code `unauthorized`)")
    busy = _error("another job is running (code `job-running`, with `job`)")
    full = _error("not enough disk space (code `insufficient-storage`, with `plan`)")
    job_id = {"name": "job_id", "in": "path", "required": True, "schema": _ID_SCHEMA}
    return {
        "/api/models": {
            "get": {
                "summary": "Installed models, the downloadable ones, and the current or latest job",
                "responses": {"200": {"description": "models", "content": _json({"type": "object"})}},
            }
        },
        "/api/models/{model_id}/plan": {
            "get": {
                "summary": "What installing a model downloads and the disk space it needs",
                "parameters": [{"name": "model_id", "in": "path", "required": True, "schema": _ID_SCHEMA}],
                "responses": {
                    "200": {"description": "the plan", "content": _json({"$ref": "#/components/schemas/SpacePlan"})},
                    "400": _error("unknown model (code `unknown-model`)"),
                },
            }
        },
        "/api/models/{model_id}": {
            "delete": {
                "summary": "Remove an installed model no voice speaks with (and a shared HuBERT no model needs)",
                "security": _BEARER,
                "parameters": [{"name": "model_id", "in": "path", "required": True, "schema": _ID_SCHEMA}],
                "responses": {
                    "200": {
                        "description": "removed",
                        "content": _json({
                            "type": "object",
                            "required": ["model", "freed_bytes", "shared_removed"],
                            "properties": {
                                "model": {"type": "string"},
                                "freed_bytes": {"type": "integer"},
                                "shared_removed": {"type": "array", "items": {"type": "string"}},
                            },
                        }),
                    },
                    "401": unauthorized,
                    "404": _error("no such model installed (code `unknown-model`)"),
                    "409": _error("voices speak with it (code `model-in-use`, with `voices`), or a job is "
                                  "running (code `job-running`, with `job`)"),
                },
            }
        },
        "/api/models/install": {
            "post": {
                "summary": "Download and convert an official model in a background job",
                "security": _BEARER,
                "requestBody": {
                    "required": True,
                    "content": _json(
                        {
                            "type": "object",
                            "required": ["model"],
                            "properties": {
                                "model": {"type": "string", "enum": ["v2", "v2pro", "v2proplus"]},
                                "replace": {"type": "boolean", "default": False},
                            },
                        }
                    ),
                },
                "responses": {
                    "202": {"description": "job started", "content": _json(_JOB)},
                    "200": {"description": "this install is already running", "content": _json(_JOB)},
                    "400": _error("unknown model"),
                    "401": unauthorized,
                    "409": busy,
                    "507": full,
                },
            }
        },
        "/api/models/import": {
            "post": {
                "summary": "Upload a fine-tune (GPT .ckpt + SoVITS .pth) and convert it in a background job",
                "security": _BEARER,
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": {"$ref": "#/components/schemas/FineTune"}}},
                },
                "responses": {
                    "202": {"description": "job started", "content": _json(_JOB)},
                    "400": _error("a field is missing or invalid"),
                    "401": unauthorized,
                    "408": _error("the upload stalled"),
                    "409": busy,
                    "413": _error("larger than --max-fine-tune-mb"),
                    "415": _error("not a checkpoint, or the clip is not audio"),
                    "507": full,
                },
            }
        },
        "/api/jobs": {
            "get": {
                "summary": "Recent jobs, newest first, and the running one",
                "responses": {"200": {"description": "jobs", "content": _json({"type": "object"})}},
            }
        },
        "/api/jobs/{job_id}": {
            "get": {
                "summary": "One job; with `wait`, answers once its revision differs from `after`",
                "parameters": [
                    job_id,
                    {"name": "wait", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 60}},
                    {"name": "after", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {
                    "200": {"description": "the job", "content": _json(_JOB)},
                    "404": _error("no such job (code `unknown-job`)"),
                },
            }
        },
        "/api/jobs/{job_id}/cancel": {
            "post": {
                "summary": "Cancel a job (partial downloads are kept; nothing half-converted is)",
                "security": _BEARER,
                "parameters": [job_id],
                "responses": {
                    "200": {"description": "the job, cancelling or already ended", "content": _json(_JOB)},
                    "401": unauthorized,
                    "404": _error("no such job"),
                },
            }
        },
    }
