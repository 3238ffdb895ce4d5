"""Containers for the tests, through the `docker` command line (no SDK: the Home Assistant venv uses this too).

The image comes from tests/container/build_image.sh (tests/run_all.sh runs it first). A missing
image or daemon is a failure that says what to run, never a skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from typing import Final

IMAGE_VARIABLE: Final = "EDGE_TTS_CLONE_IMAGE"
DEFAULT_IMAGE: Final = "edge-tts-clone:test"
WYOMING_PORT: Final = 10210
HTTP_PORT: Final = 10211
HEALTHY_DEADLINE_S: Final = 120.0
"""First start loads the stock voice; generous for a shared 2-core machine."""
STOP_TIMEOUT_S: Final = 10
"""Docker's default: SIGTERM, then SIGKILL this many seconds later."""


_DOCKER_ENVIRONMENT: Final = {**os.environ, "DOCKER_BUILDKIT": "0"}
"""Debian's docker.io has only the legacy builder (no buildx plugin)."""


class DockerError(AssertionError):
    """A docker command failed (an AssertionError, so pytest reports it as the test's failure)."""


def docker(*args: str, timeout_s: float = 300.0, check: bool = True) -> str:
    """Run `docker ARGS`, return its stdout."""
    try:
        done = subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=timeout_s, check=False, env=_DOCKER_ENVIRONMENT
        )
    except FileNotFoundError as err:
        raise DockerError("no docker command: run tests/container/build_image.sh (it installs docker.io)") from err
    if check and done.returncode != 0:
        raise DockerError(f"docker {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def image_under_test() -> str:
    """The image under test; fails with what to run when it has not been built."""
    image = os.environ.get(IMAGE_VARIABLE, DEFAULT_IMAGE)
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True, check=False).returncode != 0:
        raise DockerError(f"image {image} not found (or dockerd not running): run tests/container/build_image.sh")
    return image


def unique_name(prefix: str) -> str:
    """A container or volume name no other test run uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Container:
    """A detached container with its Wyoming and admin ports published on 127.0.0.1."""

    name: str
    image: str
    mounts: list[str] = field(default_factory=list)
    """`-v` values, e.g. "volume:/data"."""
    environment: dict[str, str] = field(default_factory=dict)
    arguments: list[str] = field(default_factory=list)

    def start(self) -> Container:
        """`docker run -d`; the health check runs every 2 s instead of 30 so tests need not wait."""
        command = ["run", "-d", "--name", self.name, "--health-interval", "2s"]
        command += ["-p", f"127.0.0.1::{WYOMING_PORT}", "-p", f"127.0.0.1::{HTTP_PORT}"]
        for mount in self.mounts:
            command += ["-v", mount]
        for key, value in self.environment.items():
            command += ["-e", f"{key}={value}"]
        docker(*command, self.image, *self.arguments)
        return self

    def host_port(self, container_port: int) -> int:
        """The 127.0.0.1 port that `container_port` is published on."""
        return int(docker("port", self.name, f"{container_port}/tcp").splitlines()[0].rsplit(":", 1)[1])

    @property
    def wyoming_port(self) -> int:
        """Where the Wyoming server is reached from the host."""
        return self.host_port(WYOMING_PORT)

    @property
    def http_url(self) -> str:
        """Base URL of the admin API from the host."""
        return f"http://127.0.0.1:{self.host_port(HTTP_PORT)}"

    def state(self) -> dict[str, object]:
        """`.State` of `docker inspect`."""
        state: dict[str, object] = json.loads(docker("inspect", "--format", "{{json .State}}", self.name))
        return state

    def wait_healthy(self, deadline_s: float = HEALTHY_DEADLINE_S) -> float:
        """Seconds until the image's HEALTHCHECK reports healthy; fails with the log if it exits first."""
        started = time.monotonic()
        while time.monotonic() - started < deadline_s:
            state = self.state()
            if not state.get("Running"):
                raise DockerError(f"{self.name} exited ({state.get('ExitCode')}):\n{self.logs()}")
            health = state.get("Health")
            if isinstance(health, dict) and health.get("Status") == "healthy":
                return time.monotonic() - started
            time.sleep(0.5)  # polling another process's readiness, not synchronizing threads
        raise DockerError(f"{self.name} not healthy after {deadline_s:.0f} s:\n{self.logs()}")

    def read_file(self, path: str) -> str:
        """A file's text, read inside the container."""
        return docker("exec", self.name, "cat", path)

    def stop(self) -> float:
        """`docker stop` (SIGTERM, SIGKILL after 10 s); returns the seconds it took."""
        started = time.monotonic()
        docker("stop", "--time", str(STOP_TIMEOUT_S), self.name, timeout_s=STOP_TIMEOUT_S + 30)
        return time.monotonic() - started

    def logs(self) -> str:
        """Everything the container wrote (stdout and stderr)."""
        done = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True, check=False)
        return (done.stdout + done.stderr)[-6000:]

    def remove(self) -> None:
        """Force-remove the container (its volumes stay)."""
        docker("rm", "-f", "-v", self.name, check=False)  # -v: its anonymous volumes, never named ones


def remove_volume(name: str) -> None:
    """Delete a named volume (after its containers are gone)."""
    docker("volume", "rm", "-f", name, check=False)
