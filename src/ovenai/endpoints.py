"""The product's URL paths that parts outside the web layer are told about.

Meta posts every notification to the callback URL set in the Meta app (Cloud API ›
Webhooks); ours ends in :data:`WEBHOOK_PATH`. The web layer serves it, the
sandbox hands it to the simulator, and the benchmarks and tests post to it: all import it
from here, a module that imports nothing (the simulator itself is only given full URLs).
"""

from __future__ import annotations

WEBHOOK_PATH = "/api/webhooks/whatsapp"
