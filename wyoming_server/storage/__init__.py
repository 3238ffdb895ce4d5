"""The data folder on disk: crash-safe folder writes, locks, and the ids that name its folders."""
