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

step "Lint and types"
"$VENV/bin/ruff" check wyoming_server tests
"$VENV/bin/mypy"

step "Server, engine and converter tests"
"$VENV/bin/python" -m pytest -q "$@"
