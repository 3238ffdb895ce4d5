"""`/api/pronunciations`: read and replace the pronunciation dictionary (docs/text-frontend.md).

GET returns the file's JSON object and the problems found in it; PUT replaces the whole object and
returns the problems of the new one (entries with problems are stored but skipped when speaking).
Both need the admin token: the dictionary holds the family's names. The next request reads the new
entries; cached audio of the old readings is not served again (the cache key has their digest).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...voices.pronunciation_file import PronunciationFile
from .context import context_of, dump_json
from .errors import ApiError
from .uploads import read_json

PATH = "/api/pronunciations"


def _file(request: web.Request) -> PronunciationFile:
    pronunciations = context_of(request).runner.pronunciations
    if pronunciations is None:
        raise ApiError(404, "not-found", "this server has no pronunciation dictionary")
    return pronunciations


async def get_pronunciations(request: web.Request) -> web.Response:
    """GET /api/pronunciations -> {path, dictionary, problems}"""
    context = context_of(request)
    pronunciations = _file(request)
    document = await context.blocking(pronunciations.document)
    problems = await context.blocking(lambda: pronunciations.problems)
    return web.json_response(
        {"path": str(pronunciations.path), "dictionary": document, "problems": problems}, dumps=dump_json
    )


async def put_pronunciations(request: web.Request) -> web.Response:
    """PUT /api/pronunciations {zh?, en?, voices?} -> {problems}"""
    context = context_of(request)
    pronunciations = _file(request)
    document = await read_json(request, context.limits.http_body_timeout_s)
    if not isinstance(document, dict):
        raise ApiError(400, "bad-request", 'the dictionary must be a JSON object with "zh", "en" and "voices"')
    try:
        problems = await context.blocking(lambda: pronunciations.replace(document))
    except OSError as err:
        raise ApiError(500, "internal", f"cannot write the dictionary: {err}") from None
    return web.json_response({"problems": problems}, dumps=dump_json)


def openapi_paths(unauthorized: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    """This module's part of the OpenAPI document."""
    entries = {"type": "object", "additionalProperties": {"type": "string"}}
    dictionary = {
        "type": "object",
        "properties": {
            "zh": {**entries, "description": 'Hanzi word -> pinyin per character, e.g. "乐乐": "le4 le4"'},
            "en": {**entries, "description": 'English word -> ARPAbet, e.g. "Nguyen": "W IH1 N"'},
            "voices": {"type": "object", "additionalProperties": {"type": "object"}},
        },
    }
    problems = {"type": "array", "items": {"type": "string"}}
    return {
        PATH: {
            "get": {
                "summary": "The pronunciation dictionary and its problems",
                "security": [{"bearer": []}],
                "responses": {
                    "200": {
                        "description": "the dictionary as stored",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "path": {"type": "string"},
                                        "dictionary": dictionary,
                                        "problems": problems,
                                    },
                                }
                            }
                        },
                    },
                    "401": unauthorized,
                },
            },
            "put": {
                "summary": "Replace the pronunciation dictionary",
                "security": [{"bearer": []}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": dictionary}}},
                "responses": {
                    "200": {
                        "description": "stored; entries with problems are skipped when speaking",
                        "content": {
                            "application/json": {"schema": {"type": "object", "properties": {"problems": problems}}}
                        },
                    },
                    "400": error,
                    "401": unauthorized,
                },
            },
        }
    }


def add_routes(app: web.Application) -> None:
    """Register these routes."""
    app.router.add_get(PATH, get_pronunciations)
    app.router.add_put(PATH, put_pronunciations)
