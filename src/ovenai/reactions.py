"""What reacts to leads' events in this process, installed in one order by serve and the
worker: typed consent first (a "הסר" is applied before anything answers it), then the
engagement score (the rules read this message's score), then the automation rules.

The hooks are module-wide (:mod:`ovenai.hooks`). Each :func:`install` is one owner's (an
app's lifespan, a worker's run) and :func:`uninstall` ends that owner's only: when owners
nest in one process (a test's app started beside the session's server), the hooks go back
to the previous owner's settings and key store instead of vanishing for everyone.
"""

from __future__ import annotations

from ovenai import automation, consent_keywords, engagement
from ovenai.keystore import Vault
from ovenai.settings import Settings

_owners: list[tuple[Settings, Vault]] = []


def install(settings: Settings, vault: Vault) -> None:
    """React to events in this process with these settings and this key store."""
    _owners.append((settings, vault))
    _apply(settings, vault)


def uninstall(vault: Vault) -> None:
    """End the install made with ``vault``; the previous owner's, if any, is in force again."""
    for index in range(len(_owners) - 1, -1, -1):
        if _owners[index][1] is vault:
            del _owners[index]
            break
    if _owners:
        _apply(*_owners[-1])
        return
    automation.uninstall()
    engagement.uninstall()
    consent_keywords.uninstall()


def _apply(settings: Settings, vault: Vault) -> None:
    consent_keywords.install(vault)  # puts its inbound hook first
    engagement.install()
    automation.install(settings, vault)
