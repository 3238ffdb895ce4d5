"""Server tests: real sockets, the real wyoming client, a fake voice library."""
