"""Checkpoint -> ONNX conversion. The only package in the project that imports torch."""
