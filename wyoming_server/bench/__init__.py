"""Benchmarks of the engine, the server and the watermark, all started as `edge-tts-clone bench ...`.

Benchmarks print figures and never run in the product; the engine benchmark needs the converter's torch.
"""
