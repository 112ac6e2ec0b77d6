"""The import contracts of pyproject.toml cover the whole package (lint-imports checks them).

A wall only holds for the modules a contract names: a new top-level module missing from the
"domain" list could import the web layer unchecked. These tests keep the list complete.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import ovenai

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(ovenai.__file__).resolve().parent
DOMAIN_CONTRACT = "The domain never imports the web layer, the CLI or the simulator"
OUTER_LAYERS = {"ovenai.cli", "ovenai.web", "ovenai.simulator"}


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _top_level_modules() -> set[str]:
    modules = {f"ovenai.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    packages = {f"ovenai.{path.parent.name}" for path in PACKAGE.glob("*/__init__.py")}
    return modules | packages


def test_every_top_level_module_is_domain_or_an_outer_layer() -> None:
    (domain,) = [c for c in _contracts() if c["name"] == DOMAIN_CONTRACT]
    named = set(domain["source_modules"])
    assert _top_level_modules() - named - OUTER_LAYERS == set()


def test_the_domain_list_names_only_modules_that_exist() -> None:
    (domain,) = [c for c in _contracts() if c["name"] == DOMAIN_CONTRACT]
    assert set(domain["source_modules"]) - _top_level_modules() == set()


def test_the_outer_layers_are_forbidden_to_the_domain() -> None:
    (domain,) = [c for c in _contracts() if c["name"] == DOMAIN_CONTRACT]
    assert set(domain["forbidden_modules"]) >= OUTER_LAYERS
