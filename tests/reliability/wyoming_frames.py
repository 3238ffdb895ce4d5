"""Hypothesis strategies for hostile Wyoming byte streams, each frame tagged with what the server must do.

A `Frame` is the bytes of (usually) one event plus its `kind`:

- `OK`: well framed (a JSON-object header line, lengths that match the bytes that follow), so
  the server reads exactly one event and stays in step, whatever nonsense the event holds
  (unknown type, `text` as a number, nested garbage in `edge_tts_clone`, audio from a client...);
- `BROKEN`: the server must answer `error` and close the connection once these bytes are in
  (not JSON, not an object, no type, lengths negative or over the limits, header over 64 KiB...);
- `UNKNOWN`: what happens depends on the bytes after it (a length that lies, a cut-off frame,
  binary garbage without a newline): the connection may end either way, but it must end.

The limits mirror `wyoming_server.settings` defaults; the harness runs the server with them.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from hypothesis import strategies as st

from tests.support.fakes import FAIL_MARKER
from wyoming_server.settings import (
    DEFAULT_MAX_EVENT_DATA_BYTES,
    DEFAULT_MAX_EVENT_HEADER_BYTES,
    DEFAULT_MAX_EVENT_PAYLOAD_BYTES,
    DEFAULT_MAX_TEXT_CHARS,
)

MAX_HEADER_BYTES: Final = DEFAULT_MAX_EVENT_HEADER_BYTES
MAX_DATA_BYTES: Final = DEFAULT_MAX_EVENT_DATA_BYTES
MAX_PAYLOAD_BYTES: Final = DEFAULT_MAX_EVENT_PAYLOAD_BYTES

TEXTS: Final = (
    "Hello.",
    "Dinner is ready. Come down please!",
    "今天天气很好。我们去公园吧！",
    "3.14 is pi. Dr. Who is here.",
    "",
    "   \n\t ",
    "....!!!???",
    f"Fine first. {FAIL_MARKER} here.",
    "x" * (DEFAULT_MAX_TEXT_CHARS + 1),
    "\ud800 lone surrogate.",
    "\x00\x01\x7f control characters.",
    "emoji 🎉 and RTL \u202e text.",
)
VOICE_NAMES: Final = ("mum", "joe", "nobody", "", " mum ", "../../admin_token", "mum\x00", "MUM", "a" * 300)
EVENT_TYPES: Final = (
    "synthesize",
    "synthesize-start",
    "synthesize-chunk",
    "synthesize-stop",
    "describe",
    "ping",
    "select-program",
    "audio-start",
    "audio-chunk",
    "audio-stop",
    "transcribe",
    "info",
    "error",
    "pong",
    "synthesize-stopped",
    "run-pipeline",
)
"""Every type a client could send, ours or not (audio and replies from a client are nonsense here)."""


class FrameKind(Enum):
    """What the server must do with a frame (see the module docstring)."""

    OK = "ok"
    BROKEN = "broken"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Frame:
    """Bytes to send, what they must cause, and a label for the statistics."""

    data: bytes
    kind: FrameKind
    label: str


@functools.cache
def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Any JSON value, NaN and huge numbers included (Python's json writes and reads them).

    Cached: building (and validating) a recursive strategy per draw would cost more than the fuzzing.
    """
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.sampled_from([2**63, 2**64, -1, -(2**63) - 1, 10**100, 0])
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=20)
        | st.sampled_from(TEXTS[:6])
    )
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
        max_leaves=max_leaves,
    )


def _pick(count: int) -> st.SearchStrategy[int]:
    """A choice among `count` branches, near uniform (hypothesis favours the ends of a small range)."""
    return st.integers(0, 2**32 - 1).map(lambda value: value % count)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The field present (usually) or absent. Hypothesis leans to a one_of's first branch."""
    return st.one_of(strategy, strategy, st.just(_ABSENT))


_ABSENT: Final = object()


def _drop_absent(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value is not _ABSENT}


_VOICE_GARBAGE: Final = st.integers(0, 4)
_VOICE_NAME: Final = _maybe(st.sampled_from(VOICE_NAMES) | json_values(3))
_VOICE_SPEAKER: Final = _maybe(st.sampled_from(("calm", "default", "nope", "../x")) | json_values(3))
_VOICE_LANGUAGE: Final = _maybe(st.sampled_from(("en", "zh", "xx", "")) | json_values(3))
_NUMBER: Final = st.floats(allow_nan=True, allow_infinity=True) | st.integers() | json_values(3)
_SPEED: Final = _maybe(st.sampled_from((0.5, 1.0, 1.5, 2.0, 0.49)) | _NUMBER)
_SEED: Final = _maybe(st.sampled_from((0, 7, 2**63 - 1, 2**63, -1)) | _NUMBER)
_STYLE: Final = _maybe(st.sampled_from(("calm", "default", "nope")) | json_values(3))
_NESTED: Final = _maybe(json_values(12))
_TEXT: Final = st.sampled_from(TEXTS) | st.text(max_size=80) | json_values(3)
_TEXT_FORMAT: Final = _maybe(st.sampled_from(("text", "ssml")) | json_values(2))
_PING_TEXT: Final = _maybe(json_values(3))
_PROGRAM: Final = _maybe(st.sampled_from(("edge-tts-clone", "x")))
_AUDIO_FIELD: Final = _maybe(st.sampled_from((16000, 2, 1, 0, -1)) | json_values(2))
_EXTRA_FIELDS: Final = st.dictionaries(st.text(max_size=8), json_values(4), max_size=2)


@st.composite
def voice_fields(draw: st.DrawFn) -> Any:
    """The `voice` field: usually an object with a name, sometimes a string, a list, a number."""
    if draw(_VOICE_GARBAGE) == 4:
        return draw(json_values())
    return _drop_absent(
        {"name": draw(_VOICE_NAME), "speaker": draw(_VOICE_SPEAKER), "language": draw(_VOICE_LANGUAGE)}
    )


@st.composite
def option_fields(draw: st.DrawFn) -> Any:
    """Our namespaced `edge_tts_clone` field, with good and garbage values."""
    if draw(_VOICE_GARBAGE) == 4:
        return draw(json_values())
    return _drop_absent(
        {"speed": draw(_SPEED), "seed": draw(_SEED), "style": draw(_STYLE), "nested": draw(_NESTED)}
    )


_VOICE: Final = _maybe(voice_fields())
_OPTIONS: Final = _maybe(option_fields())


@st.composite
def event_data(draw: st.DrawFn, event_type: str) -> dict[str, Any]:
    """A data object for `event_type`: the fields it expects, with wrong types mixed in."""
    fields: dict[str, Any] = {}
    if event_type in ("synthesize", "synthesize-start"):
        fields = {
            "text": draw(_maybe(_TEXT)),
            "voice": draw(_VOICE),
            "edge_tts_clone": draw(_OPTIONS),
            "text_format": draw(_TEXT_FORMAT),
        }
    elif event_type == "synthesize-chunk":
        fields = {"text": draw(_maybe(_TEXT))}
    elif event_type in ("ping", "select-program"):
        fields = {"text": draw(_PING_TEXT), "name": draw(_PROGRAM)}
    elif event_type.startswith("audio-"):
        fields = {key: draw(_AUDIO_FIELD) for key in ("rate", "width", "channels")}
    return {**draw(_EXTRA_FIELDS), **_drop_absent(fields)}


_EVENT_TYPE: Final = st.sampled_from(EVENT_TYPES) | st.text(min_size=1, max_size=40)
_EVENT_DATA: Final = {event_type: event_data(event_type) for event_type in EVENT_TYPES}
_PAYLOAD_CHOICE: Final = st.integers(0, 5)
_PAYLOAD: Final = st.binary(max_size=64)
_VERSION: Final = st.sampled_from(("1.5.2", "")) | json_values(2)
_PLACEMENT: Final = st.sampled_from(("inline", "after", "split", "none"))


def _header_line(header: dict[str, Any], ascii_only: bool) -> bytes:
    return json.dumps(header, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass") + b"\n"


def _encodes(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return False
    return True


@st.composite
def well_framed(draw: st.DrawFn) -> Frame:
    """One well-framed event: data inline, after the header (`data_length`), or split between both."""
    event_type = draw(_EVENT_TYPE)
    data = draw(_EVENT_DATA[event_type] if event_type in _EVENT_DATA else event_data(event_type))
    payload = draw(_PAYLOAD) if draw(_PAYLOAD_CHOICE) == 5 else b""
    header: dict[str, Any] = {"type": event_type}
    if draw(st.booleans()):
        header["version"] = draw(_VERSION)
    placement = draw(_PLACEMENT)
    tail = b""
    if placement in ("after", "split") and data:
        keys = sorted(data)
        cut = len(keys) // 2 if placement == "split" else 0
        header["data"] = {key: data[key] for key in keys[:cut]}
        tail = json.dumps({key: data[key] for key in keys[cut:]}).encode()
        header["data_length"] = len(tail)
    elif placement == "inline":
        header["data"] = data
    if payload:
        header["payload_length"] = len(payload)
    ascii_only = draw(st.booleans()) or not _encodes(header)
    line = _header_line(header, ascii_only)
    if len(line) > MAX_HEADER_BYTES:
        return Frame(line, FrameKind.BROKEN, "header-too-long")
    return Frame(line + tail + payload, FrameKind.OK, f"event:{event_type[:20]}")


@st.composite
def broken_frame(draw: st.DrawFn) -> Frame:
    """Bytes the server must refuse with `error` and then close."""
    choice = draw(_pick(12))
    if choice == 0:
        raw = draw(st.binary(min_size=1, max_size=200)).replace(b"\n", b"")
        line = raw + b"\n"
        try:
            parsed = json.loads(line)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return Frame(line, FrameKind.BROKEN, "garbage-line")
        kind = FrameKind.UNKNOWN if isinstance(parsed, dict) else FrameKind.BROKEN
        return Frame(line, kind, "garbage-line")
    if choice == 1:
        value = draw(json_values().filter(lambda v: not isinstance(v, dict)))
        return Frame(json.dumps(value).encode() + b"\n", FrameKind.BROKEN, "header-not-object")
    if choice == 2:
        header = draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k != "type"), json_values(3), max_size=3))
        header["type"] = draw(st.sampled_from(["", None, 7, ["synthesize"], {"a": 1}, True]))
        return Frame(json.dumps(header).encode() + b"\n", FrameKind.BROKEN, "bad-type")
    if choice == 3:
        data = draw(json_values().filter(lambda v: v is not None and not isinstance(v, dict)))
        return Frame(_header_line({"type": "synthesize", "data": data}, True), FrameKind.BROKEN, "data-not-object")
    if choice in (4, 5):
        key = "data_length" if choice == 4 else "payload_length"
        limit = MAX_DATA_BYTES if choice == 4 else MAX_PAYLOAD_BYTES
        value = draw(
            st.sampled_from([-1, -(2**70), limit + 1, 2**63, 10**30, 1.5, "12", True, [], {}])
            | st.integers(min_value=limit + 1)
        )
        return Frame(_header_line({"type": "synthesize", key: value}, True), FrameKind.BROKEN, f"bad-{key}")
    if choice == 6:
        body = draw(st.sampled_from([b"[1, 2]", b"nope", b"\xff\xfe{}", b"1", b'"text"', b"{", b"null", b"{}}"]))
        line = _header_line({"type": "synthesize", "data_length": len(body)}, True)
        return Frame(line + body, FrameKind.BROKEN, "data-not-json-object")
    if choice == 7:
        depth = draw(st.integers(3_000, 20_000))
        line = b'{"type": "synthesize", "data": {"x": ' + b"[" * depth + b"]" * depth + b"}}\n"
        return Frame(line, FrameKind.BROKEN, "deep-nesting")
    if choice == 8:
        size = draw(st.integers(MAX_HEADER_BYTES + 1, 2 * 1024 * 1024))  # up to 2 MiB on one "line"
        newline = draw(st.booleans())
        return Frame(b'{"type": "' + b"a" * size + (b'"}\n' if newline else b""), FrameKind.BROKEN, "long-header-line")
    if choice == 9:
        return Frame(draw(st.sampled_from([b"\n", b"   \n", b"\r\n", b"\t\n"])), FrameKind.BROKEN, "empty-line")
    if choice == 10:
        digits = draw(st.integers(4_400, 6_000))
        line = b'{"type": "synthesize", "data_length": 1' + b"0" * digits + b"}\n"
        return Frame(line, FrameKind.BROKEN, "int-too-long")
    # A header line of exactly one byte too many, otherwise valid.
    base = {"type": "ping", "data": {"pad": ""}}
    pad = MAX_HEADER_BYTES + 1 - len(_header_line(base, True))
    return Frame(_header_line({"type": "ping", "data": {"pad": " " * pad}}, True), FrameKind.BROKEN, "header-limit+1")


@st.composite
def boundary_frame(draw: st.DrawFn) -> Frame:
    """Frames exactly at the limits, which must be accepted."""
    if draw(st.booleans()):
        base = {"type": "ping", "data": {"pad": ""}}
        pad = MAX_HEADER_BYTES - len(_header_line(base, True))
        return Frame(_header_line({"type": "ping", "data": {"pad": " " * pad}}, True), FrameKind.OK, "header-at-limit")
    which = draw(st.sampled_from(("data", "payload")))
    if which == "data":
        text = "a" * (MAX_DATA_BYTES - len(json.dumps({"text": ""})))
        body = json.dumps({"text": text}).encode()
        header = _header_line({"type": "synthesize", "data_length": len(body)}, True)
        return Frame(header + body, FrameKind.OK, "data-at-limit")
    header = _header_line({"type": "audio-chunk", "payload_length": MAX_PAYLOAD_BYTES}, True)
    return Frame(header + bytes(MAX_PAYLOAD_BYTES), FrameKind.OK, "payload-at-limit")


@st.composite
def unknown_frame(draw: st.DrawFn) -> Frame:
    """Bytes whose effect depends on what follows: a lying length, a cut frame, binary garbage."""
    choice = draw(_pick(4))
    if choice == 0:
        frame = draw(well_framed())
        cut = draw(st.integers(1, max(1, len(frame.data) - 1)))
        return Frame(frame.data[:cut], FrameKind.UNKNOWN, "truncated")
    if choice == 1:
        key = draw(st.sampled_from(("data_length", "payload_length")))
        claimed = draw(st.integers(1, 4096))
        sent = draw(st.binary(max_size=claimed - 1))
        return Frame(_header_line({"type": "synthesize", key: claimed}, True) + sent, FrameKind.UNKNOWN, "length-lie")
    if choice == 2:
        return Frame(draw(st.binary(min_size=1, max_size=512)).replace(b"\n", b""), FrameKind.UNKNOWN, "binary")
    size = draw(st.integers(1_000, MAX_HEADER_BYTES - 1))
    return Frame(b'{"type": "' + b"b" * size, FrameKind.UNKNOWN, "long-line-no-newline")


@st.composite
def chunk_flood(draw: st.DrawFn) -> list[Frame]:
    """Many `synthesize-chunk` events, without start or stop, or inside a stream never stopped."""
    count = draw(st.integers(10, 60))
    text = draw(st.sampled_from(("word ", "", ".", "句子。", "x" * 50, " ")))
    chunk = Frame(_header_line({"type": "synthesize-chunk", "data": {"text": text}}, True), FrameKind.OK, "chunk-flood")
    frames = [chunk] * count
    if draw(st.booleans()):
        start = {"type": "synthesize-start", "data": {"voice": {"name": "mum"}}}
        frames.insert(0, Frame(_header_line(start, True), FrameKind.OK, "event:synthesize-start"))
    return frames


@st.composite
def frame_lists(draw: st.DrawFn) -> list[Frame]:
    """The frames of one connection: mostly well framed, with hostile ones mixed in."""
    families = draw(st.lists(_pick(1000), min_size=1, max_size=12))
    frames: list[Frame] = []
    for family in families:
        if family < 700:
            frames.append(draw(well_framed()))
        elif family < 840:
            frames.append(draw(broken_frame()))
        elif family < 970:
            frames.append(draw(unknown_frame()))
        elif family < 975:
            frames.extend(draw(chunk_flood()))
        else:
            frames.append(draw(boundary_frame()))
    return frames


@dataclass(frozen=True)
class Script:
    """One fuzz connection: frames, how they are cut into writes, and how the connection ends."""

    frames: list[Frame]
    split_at: list[int]
    """Byte offsets where the stream is cut into separate writes."""
    ending: str
    """`ping` (sentinel ping, read to pong or close), `half-close`, or `abandon` (close without reading)."""


@st.composite
def scripts(draw: st.DrawFn) -> Script:
    """A whole fuzz connection."""
    frames = draw(frame_lists())
    total = sum(len(frame.data) for frame in frames)
    split_at = sorted(draw(st.lists(st.integers(1, max(1, total)), max_size=4, unique=True)))
    ending = draw(st.sampled_from(("ping", "ping", "ping", "ping", "half-close", "abandon")))
    return Script(frames=frames, split_at=split_at, ending=ending)
