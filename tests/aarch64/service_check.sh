#!/bin/bash
# Runs at boot inside the emulated Pi (systemd as PID 1, from edge-tts-clone-pi-check.service): does
# what docs/install.md tells a Raspberry Pi OS user to do, then checks the service. RESULT lines go
# to the console; the machine powers off at the end.
exec >/dev/console 2>&1
CHECK=/opt/pi-check
export PIP_CERT=/etc/ssl/certs/ca-certificates.crt HOME=/root
result() { echo "RESULT $*"; }
started=$(date +%s)
EDGE_TTS_CLONE_PACKAGE=$(ls $CHECK/edge_tts_clone-*.whl) "$CHECK/src/packaging/raspberry-pi/install.sh"
result install_sh "rc=$?" "seconds=$(($(date +%s) - started))"
result service_active "$(systemctl is-active edge-tts-clone.service)"
result service_user "$(systemctl show -p User --value edge-tts-clone.service)"
healthy=no
for _ in $(seq 1 60); do
  if /opt/edge-tts-clone/bin/python -m wyoming_server.cli.health --uri tcp://127.0.0.1:10210 --timeout 10; then
    healthy=yes
    break
  fi
  sleep 5
done
result healthy_after_seconds "$healthy" "$(($(date +%s) - started))"
/opt/edge-tts-clone/bin/python - <<'PY'
import asyncio
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize

async def speak() -> None:
    async with AsyncTcpClient("127.0.0.1", 10210) as client:
        await client.write_event(Synthesize("Dinner is ready.").event())
        rate, audio = 0, b""
        while True:
            event = await asyncio.wait_for(client.read_event(), 600)
            if event is None or AudioStop.is_type(event.type):
                break
            if AudioStart.is_type(event.type):
                rate = AudioStart.from_event(event).rate
            elif AudioChunk.is_type(event.type):
                audio += AudioChunk.from_event(event).audio
    print(f"RESULT speak {len(audio) / 2 / max(rate, 1):.2f} s of {rate} Hz audio")

asyncio.run(speak())
PY
result data_dir "$(ls /var/lib/edge-tts-clone | tr '\n' ' ')"
stop_started=$(date +%s.%N)
systemctl stop edge-tts-clone.service
result stop_seconds "$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $stop_started}")" \
  "result=$(systemctl show -p Result --value edge-tts-clone.service)"
result done ok
systemctl poweroff
