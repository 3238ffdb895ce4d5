#!/usr/bin/env bash
# aarch64 truth: boots Debian arm64 (bookworm, Python 3.11, as Raspberry Pi OS) under full-system
# emulation with a Raspberry Pi's CPU model (qemu-system-aarch64 -M virt -cpu cortex-a72 = Pi 4,
# cortex-a76 = Pi 5), installs this project's wheel with pip and speaks with the stock voice and a
# tiny GPT-SoVITS model converted here on x86-64. Results: RESULT lines per CPU in $WORK/results-*.txt.
# Not part of tests/run_all.sh: a run takes tens of minutes (figures in docs/aarch64.md).
#
# Usage: tests/aarch64/emulate_pi.sh [CPU ...]          (default: cortex-a72 cortex-a76)
#   ONNXRUNTIME_SPEC="onnxruntime==1.27.0"  also install this onnxruntime (to try an older release)
#   EDGE_TTS_CLONE_AARCH64_WORK=DIR         cache and results (default: ~/.cache/edge-tts-clone/aarch64)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/container/host_tools.sh
source "$REPO/tests/container/host_tools.sh"
# Outside the checkout: setuptools walks the source tree when it builds the wheel.
WORK=${EDGE_TTS_CLONE_AARCH64_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-tts-clone/aarch64}
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
ONNXRUNTIME_SPEC=${ONNXRUNTIME_SPEC:-}
GUEST_CPUS=${GUEST_CPUS:-2}
GUEST_MEMORY_MB=${GUEST_MEMORY_MB:-3072}
BOOT_TIMEOUT_S=${BOOT_TIMEOUT_S:-5400}
[ "$#" -gt 0 ] || set -- cortex-a72 cortex-a76
started=$(date +%s)
mkdir -p "$WORK"

ensure_apt_packages mmdebstrap:mmdebstrap qemu-system-aarch64:qemu-system-arm mkfs.ext4:e2fsprogs
ensure_binfmt_aarch64
[ -x "$PYTHON" ] || host_tools_die "$PYTHON not found: run ./tests/run_all.sh once (it makes .venv with the converter)"

ROOT=$WORK/rootfs
if [ ! -f "$WORK/rootfs.done" ]; then
  echo "==> arm64 Debian root with Debian's arm64 kernel and initrd (mmdebstrap, a few minutes)"
  rm -rf "$ROOT"
  # The host's CA bundle: pip in the guest must trust what this machine's pip trusts.
  nice mmdebstrap --arch=arm64 --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates,libgomp1,iproute2,kmod,procps,linux-image-arm64 \
    --customize-hook='cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"' \
    bookworm "$ROOT"
  touch "$WORK/rootfs.done"
fi
KERNEL=$(ls "$ROOT"/boot/vmlinuz-* | sort -V | tail -n 1)
INITRD=$(ls "$ROOT"/boot/initrd.img-* | sort -V | tail -n 1)

echo "==> payload: the project's wheel, a tiny converted model, the guest scripts"
PAYLOAD=$WORK/payload
rm -rf "$PAYLOAD"
mkdir -p "$PAYLOAD"
"$PYTHON" -m pip wheel -q --no-deps -w "$PAYLOAD" "$REPO"
nice "$PYTHON" -m tests.aarch64.make_tiny_model "$PAYLOAD" >"$WORK/make_tiny_model.log" 2>&1 \
  || { tail -n 20 "$WORK/make_tiny_model.log" >&2; host_tools_die "converting the tiny model failed"; }
cp "$REPO/tests/aarch64/guest_init.sh" "$REPO/tests/aarch64/guest_check.sh" "$PAYLOAD/"
printf '%s' "$ONNXRUNTIME_SPEC" >"$PAYLOAD/onnxruntime_spec"
rm -rf "$ROOT/opt/pi-check"
cp -a "$PAYLOAD" "$ROOT/opt/pi-check"

for cpu in "$@"; do
  echo "==> booting Debian arm64 on an emulated $cpu"
  image=$WORK/disk-$cpu.img
  rm -f "$image"
  mkfs.ext4 -q -F -L pi-root -d "$ROOT" "$image" 6G
  console=$WORK/console-$cpu.log
  boot_started=$(date +%s)
  # No reboot, no display; the guest powers itself off when guest_check.sh is done.
  timeout "$BOOT_TIMEOUT_S" nice qemu-system-aarch64 -M virt -cpu "$cpu" -smp "$GUEST_CPUS" -m "$GUEST_MEMORY_MB" \
    -nographic -no-reboot -kernel "$KERNEL" -initrd "$INITRD" \
    -append "root=/dev/vda rw console=ttyAMA0 init=/opt/pi-check/guest_init.sh" \
    -drive "file=$image,format=raw,if=virtio" \
    -netdev user,id=net0 -device virtio-net-pci,netdev=net0 </dev/null >"$console" 2>&1 || true
  # pip's colours can precede a RESULT on its line: strip escape codes, keep from RESULT on.
  tr -d '\r' <"$console" | sed 's/\x1b\[[0-9;]*m//g' | grep -ao 'RESULT .*' >"$WORK/results-$cpu.txt" || true
  echo "RESULT boot_to_poweroff_seconds $(($(date +%s) - boot_started))" >>"$WORK/results-$cpu.txt"
  echo "RESULT onnxruntime_spec ${ONNXRUNTIME_SPEC:-newest}" >>"$WORK/results-$cpu.txt"
  cat "$WORK/results-$cpu.txt"
  rm -f "$image"
done
echo "==> done in $(($(date +%s) - started)) s; console logs and results in $WORK"
failed=0
for cpu in "$@"; do
  grep -q '^RESULT done ok' "$WORK/results-$cpu.txt" || { echo "FAILED on $cpu: see $WORK/console-$cpu.log" >&2; failed=1; }
  if grep -E '^RESULT (say_|import_)' "$WORK/results-$cpu.txt" | grep -qv 'rc=0'; then
    echo "FAILED on $cpu: a step did not succeed (see the RESULT lines)" >&2
    failed=1
  fi
done
exit "$failed"
