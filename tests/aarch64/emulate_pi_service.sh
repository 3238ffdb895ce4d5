#!/usr/bin/env bash
# The Raspberry Pi OS service for real: boots emulate_pi.sh's arm64 root with systemd as PID 1
# (qemu-system-aarch64 -M virt -cpu cortex-a72), runs packaging/raspberry-pi/install.sh with this
# checkout's wheel, and checks the service: active, healthy, speaks, stops on SIGTERM.
# Usage: tests/aarch64/emulate_pi_service.sh   (after tests/aarch64/emulate_pi.sh; as root)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/container/host_tools.sh
source "$REPO/tests/container/host_tools.sh"
WORK=${EDGE_TTS_CLONE_AARCH64_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-tts-clone/aarch64}
CPU=${CPU:-cortex-a72}
ROOT=$WORK/rootfs-systemd
[ -f "$WORK/rootfs.done" ] && [ -d "$WORK/payload" ] || host_tools_die "run tests/aarch64/emulate_pi.sh first"
ensure_binfmt_aarch64
started=$(date +%s)

if [ ! -f "$WORK/rootfs-systemd.done" ]; then
  echo "==> a copy of the arm64 root with systemd as init and systemd-networkd (apt under qemu-user)"
  rm -rf "$ROOT"
  cp -a "$WORK/rootfs" "$ROOT"
  chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -qq && apt-get install -y -qq systemd-sysv >/dev/null'
  cat >"$ROOT/etc/systemd/network/20-wired.network" <<'NETWORK'
[Match]
Name=en* eth*
[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
DNS=10.0.2.3
NETWORK
  ln -sf /lib/systemd/system/systemd-networkd.service \
    "$ROOT/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
  echo "nameserver 10.0.2.3" >"$ROOT/etc/resolv.conf"
  touch "$WORK/rootfs-systemd.done"
fi

echo "==> payload: the wheel, packaging/, the check and its unit"
rm -rf "$ROOT/opt/pi-check"
mkdir -p "$ROOT/opt/pi-check/src"
cp "$WORK"/payload/*.whl "$ROOT/opt/pi-check/"
cp -a "$REPO/packaging" "$ROOT/opt/pi-check/src/"
install -m 0755 "$REPO/tests/aarch64/service_check.sh" "$ROOT/opt/pi-check/service_check.sh"
cat >"$ROOT/etc/systemd/system/edge-tts-clone-pi-check.service" <<'UNIT'
[Unit]
Description=edge-tts-clone Raspberry Pi OS service check
Wants=network-online.target
After=network-online.target systemd-networkd.service
[Service]
Type=oneshot
ExecStart=/opt/pi-check/service_check.sh
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/edge-tts-clone-pi-check.service \
  "$ROOT/etc/systemd/system/multi-user.target.wants/edge-tts-clone-pi-check.service"
rm -f "$ROOT/etc/systemd/system/edge-tts-clone.service" "$ROOT/etc/default/edge-tts-clone"

image=$WORK/disk-systemd.img
rm -f "$image"
mkfs.ext4 -q -F -d "$ROOT" "$image" 6G
console=$WORK/console-service-$CPU.log
boot_started=$(date +%s)
KERNEL=$(ls "$ROOT"/boot/vmlinuz-* | sort -V | tail -n 1)
INITRD=$(ls "$ROOT"/boot/initrd.img-* | sort -V | tail -n 1)
timeout 5400 nice qemu-system-aarch64 -M virt -cpu "$CPU" -smp 2 -m 3072 -nographic -no-reboot \
  -kernel "$KERNEL" -initrd "$INITRD" -append "root=/dev/vda rw console=ttyAMA0" \
  -drive "file=$image,format=raw,if=virtio" -netdev user,id=net0 -device virtio-net-pci,netdev=net0 \
  </dev/null >"$console" 2>&1 || true
rm -f "$image"
tr -d '\r' <"$console" | sed 's/\x1b\[[0-9;]*m//g' | grep -ao 'RESULT .*' | tee "$WORK/results-service-$CPU.txt"
echo "RESULT boot_to_poweroff_seconds $(($(date +%s) - boot_started)) total_seconds $(($(date +%s) - started))" \
  | tee -a "$WORK/results-service-$CPU.txt"
grep -q '^RESULT done ok' "$WORK/results-service-$CPU.txt" && grep -q '^RESULT service_active active' "$WORK/results-service-$CPU.txt" \
  || host_tools_die "the service check did not pass: see $console"
