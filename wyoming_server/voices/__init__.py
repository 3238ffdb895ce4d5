"""Voice packs on disk, the registry that scans them, enrollment and the model pool.

The server talks to this package only through `VoiceLibrary` (see `library.py`).
"""
