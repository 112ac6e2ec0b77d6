"""The simulator on a loopback port (one per session) and a real client pointed at it."""

from support.simulator import (  # noqa: F401  (fixtures used by these tests)
    CONFIG,
    anyio_backend,
    client,
    control,
    fresh_simulator,
    http,
    receiver,
    simulator,
)
