"""Tests for edge-tts-clone."""
