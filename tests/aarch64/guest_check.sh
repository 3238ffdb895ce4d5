#!/bin/bash
# Runs inside the emulated arm64 Debian (PID 1 is guest_init.sh): installs the project the way a
# Raspberry Pi OS user does (venv + pip, runtime only) and speaks with the stock voice and a tiny
# converted GPT-SoVITS model. Every finding is one "RESULT key value" line on the console.
set -u
CHECK=/opt/pi-check
export PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 HOME=/root
ORT_SPEC=$(cat "$CHECK/onnxruntime_spec" 2>/dev/null || true)

result() { echo "RESULT $*"; }
timed() {  # timed NAME CMD...: runs CMD, reports its wall time and exit code
  local name=$1 start end rc
  shift
  start=$(date +%s.%N)
  "$@"
  rc=$?
  end=$(date +%s.%N)
  result "$name" "rc=$rc" "seconds=$(awk "BEGIN{printf \"%.0f\", $end-$start}")"
  return $rc
}

result uname "$(uname -m) $(uname -r)"
result cpu_part "$(grep -m1 'CPU part' /proc/cpuinfo | awk '{print $NF}')"
result cpu_features "$(grep -m1 Features /proc/cpuinfo | cut -d: -f2 | xargs)"
result python "$(python3 --version 2>&1)"

timed install bash -c "python3 -m venv /opt/venv && /opt/venv/bin/pip install -q $CHECK/*.whl $ORT_SPEC" \
  || { result done failed-install; exit 0; }
result onnxruntime "$(/opt/venv/bin/pip show onnxruntime 2>/dev/null | awk '/^Version/{print $2}')"
timed import_onnxruntime /opt/venv/bin/python -c "import onnxruntime; print(onnxruntime.get_available_providers())"

cd /tmp || exit 0
timed say_stock /opt/venv/bin/edge-tts-clone say --data-dir /tmp/data --text "Dinner is ready." -o /tmp/stock.wav
for precision in int8 fp32; do
  timed "say_tiny_$precision" /opt/venv/bin/edge-tts-clone say --model "$CHECK/tiny-v2" --precision "$precision" \
    --ref-audio "$CHECK/ref.wav" --ref-text "这是一段参考音频。" --text "晚饭好了。" \
    -o "/tmp/tiny-$precision.wav" --max-tokens 60 --seed 1
done
for wav in /tmp/stock.wav /tmp/tiny-int8.wav /tmp/tiny-fp32.wav; do
  [ -f "$wav" ] && result audio "$(/opt/venv/bin/python -c "import soundfile as s, sys; i = s.info(sys.argv[1]); \
print(sys.argv[1], i.samplerate, 'Hz', round(i.duration, 2), 's')" "$wav")"
done
result done ok
