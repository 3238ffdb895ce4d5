"""Background jobs: installing the official model and importing a person's fine-tune, without a shell.

A job downloads what is missing and converts checkpoints in a child process (`worker.py`), so a
conversion that takes minutes and GBs never holds the server's memory or its speech; the server
keeps one job at a time (`manager.py`), records its progress in `<data>/jobs` (`record.py`) and
checks the disk space it needs before starting (`plan.py`).
"""
