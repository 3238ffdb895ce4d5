"""Child for the crash tests: run an `edge-tts-clone` command and SIGKILL itself at a named crash point.

    python -m tests.reliability.crash_convert_child STEP COMMAND [ARGS...]

STEP is a step name of `storage/atomic.py` (e.g. `old-moved-aside`: between the two renames of a
folder swap), a point no outside kill can aim at.
"""

from __future__ import annotations

import os
import signal
import sys

from wyoming_server.cli import main as cli_main
from wyoming_server.storage import atomic


def main() -> int:
    """Install the hook, then run the command."""
    step, args = sys.argv[1], sys.argv[2:]

    def hook(reached: str) -> None:
        if reached == step:
            os.kill(os.getpid(), signal.SIGKILL)

    atomic.crash_hook = hook
    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
