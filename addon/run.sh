#!/bin/sh
# The add-on's entry point: /data/options.json -> `edge-tts-clone serve` flags (wyoming_server/cli/addon.py).
# exec: the server is the process Docker's init signals, so SIGTERM stops it gracefully.
exec edge-tts-clone addon --data-dir /data
