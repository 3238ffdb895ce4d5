"""Blocking raw-socket Wyoming client for the fuzzer: sends any bytes, reads the server's frames strictly.

Reading runs in its own thread while the fuzzer writes, so a script that provokes a lot of
audio never deadlocks against a server waiting for us to read.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any, Final

READ_TIMEOUT_S: Final = 20.0
"""Longest wait for the server's next bytes before the connection counts as hung."""
MAX_REPLY_LINE_BYTES: Final = 1024 * 1024
REPLY_TYPES: Final = frozenset(
    {"audio-start", "audio-chunk", "audio-stop", "error", "pong", "info", "synthesize-stopped"}
)
ERROR_CODES: Final = frozenset(
    {"unknown-voice", "empty-text", "text-too-long", "timeout", "bad-request", "busy", "engine-error", "internal"}
)


class ServerViolation(AssertionError):
    """The server sent something a Wyoming client cannot parse, or broke the contract."""


@dataclass
class Received:
    """What the server sent on one connection, and how the connection ended."""

    events: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False
    """The server closed (or reset) the connection."""
    hung: bool = False
    """Nothing arrived for READ_TIMEOUT_S and the connection was still open."""
    violation: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def errors(self) -> list[dict[str, Any]]:
        """The `error` events' data."""
        return [event["data"] for event in self.events if event["type"] == "error"]


def _read_exactly(stream: Any, count: int) -> bytes:
    data: bytes = stream.read(count)
    if len(data) != count:
        raise EOFError
    return data


def read_frames(sock: socket.socket, received: Received, sentinel: str | None) -> None:
    """Read and check frames until EOF (or the pong carrying `sentinel`); runs in a thread."""
    stream = sock.makefile("rb")
    try:
        while True:
            line = stream.readline(MAX_REPLY_LINE_BYTES)
            if not line:
                received.closed = True
                return
            if not line.endswith(b"\n"):
                raise EOFError  # cut off by the close
            header = json.loads(line)
            if not isinstance(header, dict) or header.get("type") not in REPLY_TYPES:
                raise ServerViolation(f"unexpected reply header {line[:200]!r}")
            data = header.get("data") or {}
            if header.get("data_length"):
                data.update(json.loads(_read_exactly(stream, header["data_length"])))
            if header.get("payload_length"):
                _read_exactly(stream, header["payload_length"])
            event = {"type": header["type"], "data": data}
            if event["type"] == "error" and (
                data.get("code") not in ERROR_CODES or not isinstance(data.get("text"), str) or not data["text"]
            ):
                raise ServerViolation(f"error event outside the contract: {data}")
            with received.changed:
                received.events.append(event)
                received.changed.notify_all()
            if sentinel is not None and event["type"] == "pong" and data.get("text") == sentinel:
                return
    except EOFError:
        received.closed = True
    except (ConnectionResetError, BrokenPipeError):
        received.closed = True
    except TimeoutError:
        received.hung = True
    except (ValueError, ServerViolation) as err:
        received.violation = str(err)
    finally:
        with contextlib.suppress(OSError):
            stream.close()
        received.done.set()


def connect(port: int, timeout_s: float = READ_TIMEOUT_S) -> socket.socket:
    """A connected TCP socket to 127.0.0.1:port with a read timeout."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    sock.settimeout(timeout_s)
    return sock


def reset(sock: socket.socket) -> None:
    """Close abruptly (RST), as a client that crashes or loses power does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def send_all(sock: socket.socket, data: bytes, split_at: list[int]) -> bool:
    """Send `data` in pieces cut at `split_at`; False when the server has closed the connection."""
    start = 0
    try:
        for cut in [*split_at, len(data)]:
            if cut > start:
                sock.sendall(data[start:cut])
                start = cut
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def ping_frame(text: str) -> bytes:
    """A complete `ping` event."""
    return json.dumps({"type": "ping", "data": {"text": text}}).encode() + b"\n"
