#!/usr/bin/env bash
# Installs edge-tts-clone as a systemd service on Raspberry Pi OS (bookworm, 64-bit) or Debian:
# a venv in /opt/edge-tts-clone (the runtime install: no torch), a system user, data in
# /var/lib/edge-tts-clone, settings in /etc/default/edge-tts-clone. Run again to upgrade.
#   sudo packaging/raspberry-pi/install.sh                      # this checkout
#   sudo EDGE_TTS_CLONE_PACKAGE=edge-tts-clone==0.1.0 packaging/raspberry-pi/install.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PACKAGE=${EDGE_TTS_CLONE_PACKAGE:-$(cd "$HERE/../.." && pwd)}
VENV=/opt/edge-tts-clone
SERVICE_USER=edge-tts-clone
UNIT=/etc/systemd/system/edge-tts-clone.service
DEFAULTS=/etc/default/edge-tts-clone

[ "$(id -u)" -eq 0 ] || { echo "Run as root: sudo $0" >&2; exit 1; }
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || { echo "edge-tts-clone needs Python 3.11 or newer (Raspberry Pi OS bookworm has it)" >&2; exit 1; }

echo "==> Debian packages: python3-venv"
apt-get install -y -qq python3-venv >/dev/null
echo "==> user $SERVICE_USER"
id -u "$SERVICE_USER" >/dev/null 2>&1 \
  || useradd --system --home-dir /var/lib/edge-tts-clone --shell /usr/sbin/nologin "$SERVICE_USER"
echo "==> $VENV (pip install $PACKAGE: a few minutes on a Pi)"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade "$PACKAGE"
"$VENV/bin/edge-tts-clone" --version

echo "==> systemd service"
install -m 0644 "$HERE/edge-tts-clone.service" "$UNIT"
if [ ! -f "$DEFAULTS" ]; then
  cat >"$DEFAULTS" <<'DEFAULTS_FILE'
# Settings of the edge-tts-clone service: EDGE_TTS_CLONE_<FLAG>=value for each `serve` flag
# (edge-tts-clone serve --help), then: sudo systemctl restart edge-tts-clone
# EDGE_TTS_CLONE_THREADS=4
# EDGE_TTS_CLONE_ZEROCONF=
DEFAULTS_FILE
fi
systemctl daemon-reload
systemctl enable --now edge-tts-clone.service
systemctl restart edge-tts-clone.service
echo "Running: Wyoming on port 10210, web page on http://$(hostname):10211/"
echo "Admin token: sudo cat /var/lib/edge-tts-clone/admin_token"
