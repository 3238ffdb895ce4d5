"""Writers of tiny random-weight models in the official upstream file formats (for tests and benchmarks)."""
