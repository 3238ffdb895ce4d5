"""The server's identity files in the data folder: the admin token and the server id.

Both are created on first start and kept across restarts. The token file is created with
mode 0600 in one step (O_EXCL), so it is never readable by others, not even briefly; the
token itself is never logged, returned by the API or shown by the web page.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import uuid
from pathlib import Path
from typing import Final

ADMIN_TOKEN_FILE: Final = "admin_token"
SERVER_ID_FILE: Final = "server_id"
TOKEN_BYTES: Final = 32
_MIN_TOKEN_CHARS: Final = 16


def _create_exclusive(path: Path, content: str, mode: int) -> bool:
    """Write a new file atomically with `mode`; False if it already exists."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(content + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temp, path)  # fails if another process created it first
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()


def load_or_create_admin_token(data_dir: Path) -> str:
    """The admin token from `<data>/admin_token`, generated on first start (mode 0600)."""
    path = data_dir / ADMIN_TOKEN_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create_exclusive(path, secrets.token_urlsafe(TOKEN_BYTES), 0o600)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)  # someone loosened it: the token grants write access to voices
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < _MIN_TOKEN_CHARS:
        raise ValueError(
            f"{path} holds a token shorter than {_MIN_TOKEN_CHARS} characters; delete it to get a new one"
        )
    return token


def load_or_create_server_id(data_dir: Path) -> str:
    """A stable uuid for this server (Home Assistant uses it as the config entry's unique id)."""
    path = data_dir / SERVER_ID_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create_exclusive(path, str(uuid.uuid4()), 0o644)
    text = path.read_text(encoding="utf-8").strip()
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ValueError(f"{path} does not hold a uuid; delete it to get a new one") from None
