"""A local model server for download tests: files over HTTP with ranges and dropped transfers, a tiny
release, and a converter stand-in that records its arguments and writes a manifest."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from wyoming_server.models.catalogue import ModelRelease, RemoteFile

BLOB = bytes(range(256)) * 40  # 10 kB
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()


class ServedFiles:
    """What the local HTTP server serves, and what it saw."""

    def __init__(self) -> None:
        self.content: dict[str, bytes] = {}
        self.drop_once: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        self.ignore_range = False


def _handler(files: ServedFiles) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_HEAD(self) -> None:
            path = self.path.lstrip("/")
            files.requests.append((f"HEAD {path}", None))
            body = files.content.get(path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()

        def do_GET(self) -> None:
            path = self.path.lstrip("/")
            range_header = self.headers.get("Range")
            files.requests.append((path, range_header))
            body = files.content.get(path)
            if body is None:
                self.send_error(404)
                return
            start = 0
            if range_header and not files.ignore_range:
                start = int(range_header.removeprefix("bytes=").rstrip("-"))
                if start >= len(body):
                    self.send_error(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if path in files.drop_once:
                files.drop_once.discard(path)
                self.wfile.write(body[start : start + (len(body) - start) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body[start:])

    return Handler


@contextlib.contextmanager
def serve_files() -> Iterator[tuple[str, ServedFiles]]:
    """A local HTTP server on 127.0.0.1 (HEAD, range requests, dropped transfers): (base URL, files)."""
    files = ServedFiles()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(files))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", files
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def server() -> Iterator[tuple[str, ServedFiles]]:
    """`serve_files()` for one test."""
    with serve_files() as served:
        yield served


TINY_RELEASE = ModelRelease(
    id="v2pro",
    version="v2Pro",
    gpt=RemoteFile("s1v3.ckpt", len(BLOB), BLOB_SHA),
    sovits=RemoteFile("v2Pro/s2Gv2Pro.pth", 5, sha256_prefix=hashlib.sha256(b"sovit").hexdigest()[:8]),
    sv=RemoteFile("sv/pretrained_eres2netv2w24s4ep4.ckpt"),
)


def serve_release(files: ServedFiles) -> None:
    """Serve every file of `TINY_RELEASE`."""
    files.content.update(
        {
            "s1v3.ckpt": BLOB,
            "v2Pro/s2Gv2Pro.pth": b"sovit",
            "sv/pretrained_eres2netv2w24s4ep4.ckpt": b"sv",
            "chinese-hubert-base/config.json": b"{}",
            "chinese-hubert-base/preprocessor_config.json": b"{}",
            "chinese-hubert-base/pytorch_model.bin": b"hubert",
        }
    )


class FakeConverter:
    """Records its arguments and writes a manifest, like convert_model."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(
        self,
        gpt: Path,
        sovits: Path,
        hubert_dir: Path,
        out_dir: Path,
        *,
        sv: Path | None = None,
        bert_dir: Path | None = None,
        precision: str = "both",
        progress: Any = None,
    ) -> None:
        self.calls.append(
            {"gpt": gpt, "sovits": sovits, "hubert_dir": hubert_dir, "sv": sv, "bert_dir": bert_dir}
        )
        out_dir.mkdir()
        manifest = {
            "format": 1,
            "version": "v2Pro",
            "symbol_table": "gpt-sovits-v2-732",
            "precision": ["fp32"],
            "dims": {},
            "graphs": {},
            "files": {},
        }
        (out_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
