"""Engine errors: every message is one a user can act on."""


class EngineError(Exception):
    """Base class of everything the engine raises on purpose."""


class ModelLoadError(EngineError):
    """A model folder is missing, incomplete, corrupt or of the wrong version."""


class TextError(EngineError):
    """The text cannot be spoken (empty, unpronounceable, too long)."""


class VoicePackError(EngineError):
    """A voice pack or reference clip is unusable."""


class ReferenceAudioError(VoicePackError):
    """A reference clip fails the rules (length, silence, unreadable)."""


class SynthesisCancelled(EngineError):
    """The stop event was set while synthesizing."""
