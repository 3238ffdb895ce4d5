#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine and runs every test.
# This is the README's test command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv

step() { printf '\n==> %s\n' "$*"; }

step "Python environment ($VENV) for the server, engine and converter"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
# torch first, pinned: 2.13.0 is the CPU wheel; an unpinned torch would pull a CUDA build.
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
"$VENV/bin/python" -m pip install -q -e ".[convert,test]"

step "Chromium for the web page tests"
# Debian's chromium + chromium-driver, driven by selenium; apt only when they are missing.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium chromium-driver
fi

step "systemd-analyze for the Raspberry Pi OS service's test"
if ! command -v systemd-analyze >/dev/null; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq systemd
fi

step "Lint and types"
"$VENV/bin/ruff" check wyoming_server custom_components tests
"$VENV/bin/mypy"

step "Server, engine and converter tests"
# -ra prints every skip's reason (and every failure) in the summary, so a skipped check never reads
# as a run. It is -rs and more: pytest's -r replaces, not adds to, the chars pyproject.toml sets.
"$VENV/bin/python" -m pytest -q -ra "$@"

# ---- Home Assistant integration ---------------------------------------------------------
# Two HA versions, each in its own venv on Python 3.13.0 (the newest Python here):
#   .venv-ha2025: HA 2025.4.4, the minimum in hacs.json (phcc 0.13.236, wyoming 1.5.4 as HA pins it)
#   .venv-ha2026: HA 2026.2.3, the newest HA that runs on 3.13 (phcc 0.13.316; it declares
#                 Python >=3.13.2, hence --ignore-requires-python, plus the requirements of the
#                 core components the tests load, which phcc does not install)
# A venv is reused when its stamp matches the pins below, so warm runs skip pip entirely.
HA_PYTHON=${HA_PYTHON:-"$(pyenv root 2>/dev/null || echo /nonexistent)/versions/3.13.0/bin/python"}
if [ ! -x "$HA_PYTHON" ]; then
  HA_PYTHON=$(command -v python3.13 || true)
fi
HA2025_PINS="pytest-homeassistant-custom-component==0.13.236 wyoming==1.5.4"
HA2026_PINS="--ignore-requires-python pytest-homeassistant-custom-component==0.13.316 mutagen==1.47.0 \
ha-ffmpeg==3.2.2 wyoming==1.7.2 hassil==3.5.0 home-assistant-intents==2026.1.28 pymicro-vad==1.0.1 pyspeex-noise==1.0.2"

ha_venv() {  # ha_venv DIR PINS: create or reuse DIR with exactly PINS installed
  local dir=$1 pins=$2 stamp="$1/.edge-tts-clone-pins"
  if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pins" ]; then
    echo "$dir: reusing (pins unchanged)"
    return 0
  fi
  rm -rf "$dir"
  "$HA_PYTHON" -m venv "$dir" || return 1
  # pip here prints one harmless "Location ... is ignored" line per package: keep the log quiet.
  # --no-compile: byte-compiling all of Home Assistant costs a CPU minute; tests import a fraction.
  # shellcheck disable=SC2086  # the pins are a word list on purpose
  if ! { "$dir/bin/python" -m pip install -q --upgrade pip && "$dir/bin/python" -m pip install -q --no-compile $pins; } \
    >"$dir/pip.log" 2>&1; then
    grep -v "is ignored: it is neither" "$dir/pip.log" >&2
    return 1
  fi
  "$dir/bin/python" -c "import homeassistant.const as c; print('$dir: Home Assistant', c.__version__)" || return 1
  printf '%s' "$pins" >"$stamp"
}

step "Home Assistant test environments (HA 2025.4.4 and 2026.2.3 on $HA_PYTHON)"
if [ -z "$HA_PYTHON" ]; then
  echo "No Python 3.13 found for the Home Assistant tests: set HA_PYTHON" >&2
  exit 1
fi
# Both installs are mostly download time: run them side by side, then show their logs.
ha_logs=$(mktemp -d)
ha_venv .venv-ha2025 "$HA2025_PINS" >"$ha_logs/2025" 2>&1 &
pid2025=$!
ha_venv .venv-ha2026 "$HA2026_PINS" >"$ha_logs/2026" 2>&1 &
pid2026=$!
status=0
wait "$pid2025" || status=1
wait "$pid2026" || status=1
cat "$ha_logs/2025" "$ha_logs/2026"
rm -rf "$ha_logs"
[ "$status" -eq 0 ] || { echo "Creating the Home Assistant venvs failed" >&2; exit 1; }

step "Home Assistant integration: types (mypy --strict against HA 2026.2.3)"
# phcc and PyYAML ship no type information; everything else is checked strictly.
"$VENV/bin/mypy" --config-file= --strict --python-version 3.13 --python-executable .venv-ha2026/bin/python \
  --explicit-package-bases --disable-error-code import-untyped custom_components/edge_tts_clone tests/ha \
  tests/container/ha

# tests/ha also holds hassfest's, the quality scale's and HACS's rules written out (hassfest is
# not on PyPI), and fails any test in which HA reports a deprecated call by the integration.
step "Home Assistant integration tests on HA 2025.4.4 (with hassfest, quality-scale and HACS rules)"
.venv-ha2025/bin/python -m pytest -c tests/ha/pytest.ini tests/ha -q -ra

step "Home Assistant integration tests on HA 2026.2.3 (with hassfest, quality-scale and HACS rules)"
.venv-ha2026/bin/python -m pytest -c tests/ha/pytest.ini tests/ha -q -ra

# ---- Container image --------------------------------------------------------------------
# Installs docker.io and mmdebstrap, starts dockerd and makes the Debian base image when they are
# missing (no image registry is reachable); fails, never skips, when dockerd cannot run.
step "Container image (amd64): build from a locally made Debian base"
container_started=$(date +%s)
tests/container/build_image.sh

step "Container image: the wyoming client, enrollment, restarts, SIGTERM; the add-on's image"
"$VENV/bin/python" -m pytest -q -ra tests/container

step "Container image: Home Assistant's test harness (HA 2026.2.3) gets speech from it"
.venv-ha2026/bin/python -m pytest -c tests/container/ha/pytest.ini tests/container/ha -q -ra
echo "Container steps took $(($(date +%s) - container_started)) s"
