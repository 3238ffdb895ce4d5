"""`python -m wyoming_server` runs the same command line as `edge-tts-clone`."""

from .cli import run

if __name__ == "__main__":
    run()
