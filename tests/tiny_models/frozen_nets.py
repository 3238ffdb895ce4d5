"""Moved to `wyoming_server.convert.random_frozen_nets` (the benchmark writes real-size checkpoints with it).

Re-exported here only so test modules written before the move keep importing; import from the package.
"""

from wyoming_server.convert.random_frozen_nets import *  # noqa: F403
