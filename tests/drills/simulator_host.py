"""The simulator as Meta on a host of its own (the cluster drill runs it in a namespace):
``PYTHONPATH=tests python -m drills.simulator_host HOST PORT CAP WEBHOOK_URL``.

It is the drills' simulator (``product.SIM``: their token, app secret and ids) with Meta's
per-second cap at ``CAP``, delivery statuses on, and webhooks posted to ``WEBHOOK_URL``,
retried as Meta retries (here 12 times, from 0.1 s doubling: about 3½ minutes in all).
"""

from __future__ import annotations

import dataclasses
import sys

from drills.product import SIM
from ovenai.simulator.server import run_simulator


def main(argv: list[str]) -> None:
    host, port, cap, webhook_url = argv
    config = dataclasses.replace(
        SIM,
        mps_cap=int(cap),
        statuses=True,
        webhook_url=webhook_url,
        webhook_retry_attempts=12,
        webhook_retry_base_s=0.1,
    )
    run_simulator(config, host, int(port))


if __name__ == "__main__":
    main(sys.argv[1:])
