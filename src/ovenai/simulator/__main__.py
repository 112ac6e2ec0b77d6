"""``python -m ovenai.simulator``: serve the simulator (benchmarks; the CLI has its own)."""

from __future__ import annotations

import argparse

from ovenai.simulator.config import SimulatorConfig
from ovenai.simulator.server import run_simulator


def parse_config(argv: list[str] | None = None) -> tuple[SimulatorConfig, str, int]:
    """Read the few settings benchmarks need from the command line."""
    parser = argparse.ArgumentParser(prog="python -m ovenai.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--mps-cap", type=int, default=80, help="0 switches the cap off")
    parser.add_argument("--statuses", choices=("on", "off"), default="on")
    parser.add_argument("--status-sample-rate", type=float, default=1.0)
    parser.add_argument(
        "--webhook-batch-size",
        type=int,
        default=1,
        help="statuses a webhook carries at most (Meta batches them under load)",
    )
    args = parser.parse_args(argv)
    config = SimulatorConfig(
        webhook_url=args.webhook_url,
        mps_cap=args.mps_cap or None,
        statuses=args.statuses == "on",
        status_sample_rate=args.status_sample_rate,
        webhook_batch_size=args.webhook_batch_size,
    )
    return config, args.host, args.port


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted."""
    config, host, port = parse_config(argv)
    run_simulator(config, host, port)


if __name__ == "__main__":
    main()
