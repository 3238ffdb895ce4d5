"""The Home Assistant add-on's image (addon/Dockerfile), built and run with an options file as the Supervisor does.

The Supervisor builds from addon/ alone and installs the release archive; here the same pip
install gets this checkout's wheel over loopback HTTP, on top of the server image with the
server uninstalled (its dependencies stay, which keeps the build short).
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from wyoming.audio import AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.tts import Synthesize

from .docker_cli import STOP_TIMEOUT_S, Container, docker, image_under_test, unique_name

REPO = Path(__file__).resolve().parents[2]
ADDON_IMAGE = "edge-tts-clone-addon:test"
DEPENDENCIES_IMAGE = "edge-tts-clone-dependencies:test"
INSTALLED_FROM = "/opt/edge-tts-clone/lib/python3.11/site-packages/edge_tts_clone-0.1.0.dist-info/direct_url.json"
READ_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def addon_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """addon/Dockerfile built FROM the server image's dependencies with this checkout's wheel."""
    base = DEPENDENCIES_IMAGE
    uninstaller = unique_name("edge-tts-clone-uninstall")
    docker("run", "--name", uninstaller, "--user", "root", "--entrypoint", "pip", image_under_test(),
           "uninstall", "-q", "-y", "edge-tts-clone")  # fmt: skip
    docker("commit", uninstaller, base)
    docker("rm", "-v", uninstaller)
    wheels = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)], check=True
    )
    wheel = next(wheels.glob("edge_tts_clone-*.whl"))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(wheels))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/{wheel.name}"
    try:
        docker(
            "build", "--network", "host", "--build-arg", f"BUILD_FROM={base}",
            "--build-arg", f"EDGE_TTS_CLONE_PACKAGE={url}", "-t", ADDON_IMAGE, str(REPO / "addon"),
            timeout_s=900,
        )  # fmt: skip
    finally:
        server.shutdown()
        thread.join()
    installed_from = json.loads(docker("run", "--rm", "--entrypoint", "cat", ADDON_IMAGE, INSTALLED_FROM))
    assert installed_from["url"] == url, "the add-on's image installs the package it is given"
    yield ADDON_IMAGE


def test_addon_image_has_the_supervisors_labels(addon_image: str) -> None:
    labels = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", addon_image))
    assert labels["io.hass.type"] == "addon" and labels["io.hass.version"] == "0.1.0"
    assert docker("image", "inspect", "--format", "{{.Config.User}}", addon_image).strip() == "root"


async def test_addon_runs_with_the_options_file(addon_image: str, tmp_path: Path) -> None:
    data, public = tmp_path / "data", tmp_path / "config"
    data.mkdir()
    public.mkdir()
    options = {"max_text_chars": 40, "log_level": "debug", "zeroconf": False, "threads": 1}
    (data / "options.json").write_text(json.dumps(options), encoding="utf-8")
    name = unique_name("edge-tts-clone-addon-test")
    container = Container(name, addon_image, mounts=[f"{data}:/data", f"{public}:/config"])
    container.start()
    try:
        container.wait_healthy()
        async with AsyncTcpClient("127.0.0.1", container.wyoming_port) as client:
            await client.write_event(Synthesize("This text is longer than the forty characters allowed.").event())
            refused = await asyncio.wait_for(client.read_event(), READ_TIMEOUT_S)
            assert refused is not None and Error.is_type(refused.type), refused
            assert Error.from_event(refused).code == "text-too-long", "max_text_chars reached the server"
        async with AsyncTcpClient("127.0.0.1", container.wyoming_port) as client:
            await client.write_event(Synthesize("Dinner is ready.").event())
            start = await asyncio.wait_for(client.read_event(), READ_TIMEOUT_S)
            assert start is not None and AudioStart.is_type(start.type), start
        logs = container.logs()
        assert "Add-on options:" in logs and "DEBUG:" in logs, "log_level debug reached the server"
        assert (public / "admin_token").read_text().strip() == (data / "admin_token").read_text().strip()
        assert (data / "server_id").is_file(), "the server keeps its data in /data (it writes server_id at start)"
        assert container.stop() < STOP_TIMEOUT_S
        assert container.state()["ExitCode"] == 0
    finally:
        container.remove()
