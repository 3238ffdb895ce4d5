"""Our own torch re-implementations of the GPT-SoVITS networks, loaded strictly from official checkpoints."""
