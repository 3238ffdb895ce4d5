"""Reliability and security tests (issue 6): fuzzing, hostile clients, load and soak, crash safety, resource faults."""
