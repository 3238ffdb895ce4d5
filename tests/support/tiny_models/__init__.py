"""Test helpers around the random-weight checkpoint writers (which live in `wyoming_server.convert.random_*`)."""
