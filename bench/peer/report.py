"""The machine-readable headline lines ``make bench`` gathers into its summary table.

A step prints ``BENCH {"figure": ..., "value": ..., "unit": ..., "target": ...}`` (one JSON
object a line) for each headline figure; :mod:`bench.__main__` reads them from the step's
output (and, for the steps that print only prose, parses their usual lines).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

PREFIX = "BENCH "


@dataclass(frozen=True)
class Figure:
    """One headline figure of one step."""

    figure: str
    value: float
    unit: str
    target: str = ""


def figure(name: str, value: float, unit: str, *, target: str = "") -> None:
    """Print ``name``'s headline line."""
    print(PREFIX + json.dumps(asdict(Figure(name, round(value, 2), unit, target))), flush=True)


def read_figures(output: str) -> list[Figure]:
    """Every headline line of ``output``."""
    found = []
    for line in output.splitlines():
        if line.startswith(PREFIX):
            data = json.loads(line[len(PREFIX) :])
            found.append(Figure(data["figure"], float(data["value"]), data["unit"], data["target"]))
    return found
