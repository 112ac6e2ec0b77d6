"""The simulator on a loopback port (one per session, reset before each test) and a real
client pointed at it."""

from support.simulator import (  # noqa: F401  (fixtures used by these tests)
    client,
    control,
    fresh_simulator,
    http,
    receiver,
    reset_before_each_test,
    sim_config,
    simulator,
)
