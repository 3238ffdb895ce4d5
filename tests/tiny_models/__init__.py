"""Tiny random-weight checkpoints written in the official GPT-SoVITS formats (test inputs)."""
