"""Random-weight checkpoints in the official formats, for tests and benchmarks (no real weights needed)."""
