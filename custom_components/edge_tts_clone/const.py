"""Constants of the edge_tts_clone integration: names, defaults and limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

DOMAIN: Final = "edge_tts_clone"
MANUFACTURER: Final = "edge-tts-clone"

PROGRAM_NAME: Final = "edge-tts-clone"
"""Name of the Wyoming `TtsProgram` our server advertises (docs/http-api.md)."""
WYOMING_EXTRA_FIELD: Final = "edge_tts_clone"
"""Namespaced field of `synthesize` data carrying speed/seed/style."""

CONF_WYOMING_PORT: Final = "wyoming_port"
CONF_HTTP_PORT: Final = "http_port"
CONF_TOKEN: Final = "token"
CONF_DEFAULT_VOICE: Final = "default_voice"
CONF_DEFAULT_SPEED: Final = "default_speed"

DEFAULT_WYOMING_PORT: Final = 10210
DEFAULT_HTTP_PORT: Final = 10211
DEFAULT_SPEED: Final = 1.0
MIN_SPEED: Final = 0.5
MAX_SPEED: Final = 2.0
FALLBACK_LANGUAGE: Final = "en"
"""Used only while the server lists no voice at all (HA needs some language)."""

# TTS option keys (besides HA's own `voice` and `preferred_*`).
OPTION_VOICE: Final = "voice"
OPTION_SPEED: Final = "speed"
OPTION_STYLE: Final = "style"
OPTION_SEED: Final = "seed"

# Zeroconf TXT properties (docs/http-api.md, "Zeroconf").
ZEROCONF_HTTP_PORT: Final = "http_port"
ZEROCONF_SERVER_ID: Final = "server_id"
ZEROCONF_INSTANCE_PREFIX: Final = "edge-tts-clone-"
"""Our servers announce themselves as `edge-tts-clone-<name>`; `<name>` titles the discovery card."""

UPDATE_INTERVAL: Final = timedelta(seconds=30)
UNREACHABLE_ISSUE_AFTER: Final = timedelta(minutes=5)
"""An outage this long raises a repair issue; a blip of a poll or two does not."""

CONNECT_TIMEOUT_S: Final = 5.0
DESCRIBE_TIMEOUT_S: Final = 5.0
HTTP_TIMEOUT_S: Final = 10.0
ENROLL_TIMEOUT_S: Final = 300.0
"""Enrollment analyses the clip on the server; a Raspberry Pi may take minutes."""
AUDIO_IDLE_TIMEOUT_S: Final = 60.0
"""Longest wait for the next audio event once all text has been sent."""

MAX_EVENT_DATA_BYTES: Final = 1024 * 1024
MAX_EVENT_PAYLOAD_BYTES: Final = 4 * 1024 * 1024
"""Caps on one Wyoming event, so a confused server cannot make HA buffer gigabytes."""
MAX_REPLY_AUDIO_BYTES: Final = 64 * 1024 * 1024
"""About 17 minutes of 32 kHz 16-bit mono: more than any announcement."""
MAX_ENROLL_FILE_BYTES: Final = 50 * 1024 * 1024
MAX_CHECKPOINT_FILE_BYTES: Final = 1024 * 1024 * 1024
"""A fine-tune's GPT or SoVITS file; the server's own cap (both together) is what counts."""
UPLOAD_IDLE_TIMEOUT_S: Final = 120.0
"""A fine-tune upload may take minutes; a connection silent this long is dead."""
JOB_POLL_S: Final = 30.0
"""Each status request waits up to this long for the job to change (docs/http-api.md: `?wait=`)."""
JOB_WAIT_LIMIT_S: Final = 3 * 3600.0
"""An action waiting for a job gives up after this long (a Raspberry Pi converts in minutes, not hours)."""

MODELS: Final = ("v2pro", "v2proplus", "v2")
"""The official models the server can install (POST /api/models/install)."""
DEFAULT_MODEL: Final = "v2pro"

SERVICE_ANNOUNCE: Final = "announce"
SERVICE_ENROLL_VOICE: Final = "enroll_voice"
SERVICE_DELETE_VOICE: Final = "delete_voice"
SERVICE_INSTALL_MODEL: Final = "install_model"

ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_MESSAGE: Final = "message"
ATTR_VOICE: Final = "voice"
ATTR_STYLE: Final = "style"
ATTR_SPEED: Final = "speed"
ATTR_LANGUAGE: Final = "language"
ATTR_CACHE: Final = "cache"
ATTR_PREANNOUNCE: Final = "preannounce"
ATTR_NAME: Final = "name"
ATTR_AUDIO: Final = "audio"
ATTR_TRANSCRIPT: Final = "transcript"
ATTR_CONSENT: Final = "consent"
ATTR_VOICE_ID: Final = "voice_id"
ATTR_FORCE: Final = "force"
ATTR_GPT: Final = "gpt"
ATTR_SOVITS: Final = "sovits"
ATTR_MODEL: Final = "model"
ATTR_REPLACE: Final = "replace"
ATTR_WAIT: Final = "wait"
