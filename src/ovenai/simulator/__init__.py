"""A stand-in for Meta's Cloud API: Graph paths, signed webhooks and a control API.

It keeps everything in memory and imports nothing of the product's domain or database.
"""

from ovenai.simulator.app import create_simulator_app
from ovenai.simulator.config import SimulatorConfig
from ovenai.simulator.server import SimulatorThread, serve_simulator, uvicorn_config
from ovenai.simulator.webhooks import meta_json, sign

__all__ = [
    "SimulatorConfig",
    "SimulatorThread",
    "create_simulator_app",
    "meta_json",
    "serve_simulator",
    "sign",
    "uvicorn_config",
]
