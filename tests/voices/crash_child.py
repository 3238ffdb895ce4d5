"""Child process for the crash tests: performs one voice write, pausing at every crash point.

    python -m tests.voices.crash_child DATA_DIR OPERATION AUDIO_FILE {pause|free} [REPEAT]

At each point where a crash could interrupt a write it prints the step name; in `pause` mode it then
waits for a line on stdin, so the parent can SIGKILL it at exactly that point.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.voices import make_store, request
from wyoming_server.storage import atomic


def main() -> None:
    data_dir, operation, audio_file, mode = sys.argv[1:5]
    repeat = int(sys.argv[5]) if len(sys.argv) > 5 else 1

    def hook(step: str) -> None:
        sys.stdout.write(step + "\n")
        sys.stdout.flush()
        if mode == "pause":
            sys.stdin.readline()

    atomic.crash_hook = hook
    store = make_store(Path(data_dir))
    audio = Path(audio_file).read_bytes()
    for _ in range(repeat):
        if operation == "replace":
            store.enroll(request(audio, voice_id="mum"))
        elif operation == "create":
            store.enroll(request(audio, name="Dad"))
        elif operation == "rename":
            store.rename("mum", "Mother")
        elif operation == "remove":
            store.remove("mum")
    sys.stdout.write("done\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
