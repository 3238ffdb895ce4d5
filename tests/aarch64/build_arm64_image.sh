#!/usr/bin/env bash
# The aarch64 image: builds the repository's Dockerfile on an arm64 Debian bookworm base under
# qemu-user (what a cross-build on an x86-64 machine does), runs it and checks that it becomes
# healthy and speaks with the stock voice over Wyoming. /sys/devices/system/cpu is hidden from the
# container: under qemu-user onnxruntime's CPU probe crashes on the host's CPU files, which a real
# arm64 machine does not have (docs/aarch64.md). Uses the arm64 root emulate_pi.sh made.
# Not part of tests/run_all.sh: the build alone takes many minutes under emulation.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/container/host_tools.sh
source "$REPO/tests/container/host_tools.sh"
WORK=${EDGE_TTS_CLONE_AARCH64_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-tts-clone/aarch64}
IMAGE=${EDGE_TTS_CLONE_ARM64_IMAGE:-edge-tts-clone:arm64-test}
BASE=edge-tts-clone-test-base:bookworm-arm64
NAME=edge-tts-clone-arm64-test
export DOCKER_BUILDKIT=0
[ -f "$WORK/rootfs.done" ] || host_tools_die "no arm64 root in $WORK: run tests/aarch64/emulate_pi.sh first"
ensure_binfmt_aarch64
ensure_dockerd

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  echo "==> arm64 base image from the emulated Pi's root (without kernel, modules and test payload)"
  tar -C "$WORK/rootfs" --exclude=./boot --exclude=./usr/lib/modules --exclude=./opt/pi-check -c . \
    | docker import --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' --change 'CMD ["/bin/bash"]' \
      - "$BASE" >/dev/null
fi

echo "==> docker build of the repository's Dockerfile on $BASE (under qemu-user)"
started=$(date +%s)
nice docker build --network host --build-arg "BUILD_FROM=$BASE" -t "$IMAGE" "$REPO" >"$WORK/arm64-build.log" 2>&1 \
  || { tail -n 30 "$WORK/arm64-build.log" >&2; host_tools_die "the arm64 build failed (log: $WORK/arm64-build.log)"; }
echo "RESULT arm64_build_seconds $(($(date +%s) - started))"
echo "RESULT arm64_image_mb $(($(docker image inspect --format '{{.Size}}' "$IMAGE") / 1000000))"
echo "RESULT arm64_machine $(docker run --rm --entrypoint uname "$IMAGE" -m)"

echo "==> run it (hidden /sys/devices/system/cpu, --init) until healthy, then speak"
docker rm -f "$NAME" >/dev/null 2>&1 || true
trap 'docker rm -f "$NAME" >/dev/null 2>&1 || true' EXIT
docker run -d --name "$NAME" --init --health-interval 5s -p 127.0.0.1::10210 \
  --mount type=tmpfs,destination=/sys/devices/system/cpu "$IMAGE" >/dev/null
started=$(date +%s)
until [ "$(docker inspect --format '{{.State.Health.Status}}' "$NAME")" = healthy ]; do
  [ "$(docker inspect --format '{{.State.Running}}' "$NAME")" = true ] \
    || { docker logs "$NAME" >&2; host_tools_die "the arm64 container exited"; }
  [ $(($(date +%s) - started)) -lt 900 ] || { docker logs "$NAME" >&2; host_tools_die "not healthy in 900 s"; }
  sleep 5
done
echo "RESULT arm64_healthy_after_seconds $(($(date +%s) - started))"
port=$(docker port "$NAME" 10210/tcp | head -n 1 | cut -d: -f2)
"$REPO/.venv/bin/python" - "$port" <<'PY'
import asyncio, sys, time
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize

async def speak(port: int) -> None:
    started = time.monotonic()
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Synthesize("Dinner is ready.").event())
        rate, audio = 0, b""
        while True:
            event = await asyncio.wait_for(client.read_event(), 600)
            assert event is not None, "the server closed the connection"
            if AudioStart.is_type(event.type):
                rate = AudioStart.from_event(event).rate
            elif AudioChunk.is_type(event.type):
                audio += AudioChunk.from_event(event).audio
            elif AudioStop.is_type(event.type):
                break
            else:
                raise SystemExit(f"unexpected {event.type}: {event.data}")
    print(f"RESULT arm64_speak {len(audio) / 2 / rate:.2f} s of {rate} Hz audio in {time.monotonic() - started:.0f} s")

asyncio.run(speak(int(sys.argv[1])))
PY
echo "RESULT arm64_stop_seconds $( { time -p docker stop "$NAME" >/dev/null; } 2>&1 | awk '/^real/{print $2}') exit=$(docker inspect --format '{{.State.ExitCode}}' "$NAME")"
