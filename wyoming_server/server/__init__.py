"""The asyncio server: Wyoming TTS over tcp/unix/stdio, plus the admin HTTP API and web page.

Knows nothing of tensors: it calls the synchronous `VoiceLibrary` from worker threads.
"""
