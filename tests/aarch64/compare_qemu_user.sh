#!/usr/bin/env bash
# Why `import onnxruntime` crashed in an arm64 *container* under qemu-user while it runs in a plain
# chroot and under full-system emulation: the same probe (import, then load the tiny model's INT8
# and fp32 graphs) in a copy of emulate_pi.sh's arm64 root, as a chroot with and without /proc and
# /sys, and as a Docker container with and without parts of the host's CPU description hidden.
# Prints one RESULT line per setup (rc 139 = segmentation fault). Run emulate_pi.sh first.
#   ONNXRUNTIME_SPEC="onnxruntime==1.27.0"   the release to probe (default: the newest)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/container/host_tools.sh
source "$REPO/tests/container/host_tools.sh"
WORK=${EDGE_TTS_CLONE_AARCH64_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-tts-clone/aarch64}
ONNXRUNTIME_SPEC=${ONNXRUNTIME_SPEC:-onnxruntime}
ROOT=$WORK/rootfs-qemu-user
IMAGE=edge-tts-clone-arm64-probe:latest
[ -f "$WORK/rootfs.done" ] && [ -d "$WORK/payload/tiny-v2" ] \
  || host_tools_die "no arm64 root in $WORK: run tests/aarch64/emulate_pi.sh first"
ensure_binfmt_aarch64
ensure_dockerd

if [ ! -x "$ROOT/opt/ort/bin/python" ] || [ "$(cat "$ROOT/opt/ort/spec" 2>/dev/null)" != "$ONNXRUNTIME_SPEC" ]; then
  echo "==> a copy of the arm64 root with $ONNXRUNTIME_SPEC in /opt/ort (pip under qemu-user)"
  rm -rf "$ROOT"
  cp -a "$WORK/rootfs" "$ROOT"
  cp -a "$WORK/payload/tiny-v2" "$ROOT/opt/tiny-v2"
  chroot "$ROOT" /usr/bin/python3 -m venv /opt/ort
  chroot "$ROOT" /usr/bin/env -i PATH=/usr/bin:/bin PIP_CERT=/etc/ssl/certs/ca-certificates.crt HOME=/root \
    /opt/ort/bin/pip install -q "$ONNXRUNTIME_SPEC" numpy
  printf '%s' "$ONNXRUNTIME_SPEC" >"$ROOT/opt/ort/spec"
  docker rmi -f "$IMAGE" >/dev/null 2>&1 || true
fi
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  # Debian's dockerd (20.10) records an imported image as amd64 whatever --platform says, and
  # `docker run --platform linux/arm64` would then try a registry; binfmt runs its arm64 programs.
  tar -C "$ROOT" -c . | docker import - "$IMAGE" >/dev/null
fi

PROBE='import onnxruntime as ort
for name in ("vits_decoder.int8.onnx", "vits_decoder.onnx", "t2s_step.int8.onnx"):
    ort.InferenceSession("/opt/tiny-v2/" + name, providers=["CPUExecutionProvider"])
print(ort.__version__, "imported and loaded 3 graphs")'

probe() {  # probe LABEL COMMAND...: run the probe (PROBE_TIMEOUT_S, 300), report its exit code and last line
  local label=$1 rc=0 out
  shift
  out=$(timeout -k 10 "${PROBE_TIMEOUT_S:-300}" "$@" /opt/ort/bin/python -c "$PROBE" 2>&1) || rc=$?
  echo "RESULT $label rc=$rc $(printf '%s' "$out" | grep -v '^\s*$' | tail -n 1)"
}
unmount_all() { umount "$ROOT/proc" "$ROOT/sys" 2>/dev/null || true; }
trap unmount_all EXIT

echo "==> $ONNXRUNTIME_SPEC, qemu-user $(qemu-aarch64-static --version | head -n 1 | awk '{print $3}')"
probe "chroot, no /proc or /sys" chroot "$ROOT"
probe "chroot, no /proc or /sys, QEMU_CPU=cortex-a72" env QEMU_CPU=cortex-a72 chroot "$ROOT"
mount -t proc proc "$ROOT/proc"
probe "chroot with /proc" chroot "$ROOT"
mount -t sysfs sys "$ROOT/sys"
probe "chroot with /proc and /sys, QEMU_CPU=cortex-a72" env QEMU_CPU=cortex-a72 chroot "$ROOT"
probe "chroot with /proc and /sys" chroot "$ROOT"
umount "$ROOT/proc"
probe "chroot with /sys only" chroot "$ROOT"
unmount_all
# As PID 1 of its container the crashing process cannot kill itself with SIGSEGV (the kernel
# drops default-action signals to a namespace's init), so it hangs: --init makes it PID 2.
PROBE_TIMEOUT_S=120 probe "container, process as PID 1 (rc 124 = still hanging after 120 s)" \
  docker run --rm --name edge-tts-clone-pid1-probe "$IMAGE"
docker rm -f edge-tts-clone-pid1-probe >/dev/null 2>&1 || true
probe "container --init" docker run --rm --init "$IMAGE"
probe "container --init, QEMU_CPU=cortex-a72" docker run --rm --init -e QEMU_CPU=cortex-a72 "$IMAGE"
probe "container --init, /sys/devices/system/cpu hidden" docker run --rm --init \
  --mount type=tmpfs,destination=/sys/devices/system/cpu "$IMAGE"
probe "container --init, /proc/cpuinfo hidden" docker run --rm --init -v /dev/null:/proc/cpuinfo:ro "$IMAGE"
