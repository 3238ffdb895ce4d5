"""Reliability and security tests (issue 6): fuzzing, hostile HTTP clients, the page under XSS."""
