"""Reliability tests (issue 6): load and soak, crash safety, resource faults; see RELIABILITY.md."""
