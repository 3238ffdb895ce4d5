"""Background-job tests: the manager, its worker process, and one run of the real converter."""
