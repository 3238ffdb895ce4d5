"""Moved to `wyoming_server.convert.random_sovits` (the benchmark writes real-size checkpoints with it).

Re-exported here only so test modules written before the move keep importing; import from the package.
"""

from wyoming_server.convert.random_sovits import *  # noqa: F403
