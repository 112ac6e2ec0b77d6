"""A photo campaign: N template sends whose image header carries one listing photo.

bench.outbound.run's machinery (the simulator in its own process at ``--cap`` per second,
``--workers`` real worker processes, every state change recorded), with what is queued
changed: a listing with one ~70 KB photo (sealed in the media store the workers read), an
approved Hebrew template with an ``IMAGE`` header (submitted to the simulator through its
Graph API and approved there), and N leads of that listing, each queued the template — so
every send carries the photo by Meta's media id (ovenai.property_files.Uploads). Reports
bench.outbound's figures (sustained rate, busiest second, nothing lost or sent twice) and
how many uploads the simulator received (target: one per worker process at most, however
many sends).

    .venv/bin/python -m bench.outbound_files --db postgresql --workers 2 --cap 1000 --messages 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from bench.outbound import run as outbound
from bench.process import free_port
from ovenai import property_files, templates
from ovenai.auth import Actor
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.media_store import LocalStore
from ovenai.models import MessageTemplate, Property, PropertyFileRole
from ovenai.settings import SANDBOX_BUSINESS_ACCOUNT_ID

PHOTO = Path(__file__).parents[1] / "tests" / "fixtures" / "property_files" / "living_room.jpg"
TEMPLATE = "listing_photo_he"
COMPONENTS: list[dict[str, Any]] = [
    {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1hZ2U="]}},
    {
        "type": "BODY",
        "text": "היי {{1}}, הנה הנכס ב{{2}}. מעוניין/ת לקבוע צפייה?",
        "example": {"body_text": [["דנה", "חיפה"]]},
    },
]


def _post(url: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def _approved_at_the_simulator(sim_url: str) -> None:
    waba = SANDBOX_BUSINESS_ACCOUNT_ID
    definition = {
        "name": TEMPLATE,
        "language": "he",
        "category": "MARKETING",
        "components": COMPONENTS,
    }
    _post(f"{sim_url}/v25.0/{waba}/message_templates", definition, outbound.TOKEN)
    _post(f"{sim_url}/_sim/templates/review", {"name": TEMPLATE, "status": "APPROVED"})


def filler(sim_url: str, media_dir: Path) -> Any:
    """bench.outbound.run's ``_fill`` for a photo campaign (see the module's doc)."""

    async def fill(db: Database, count: int) -> None:
        _approved_at_the_simulator(sim_url)
        async with db.session() as session:
            await templates.load_seed(session, waba_id=SANDBOX_BUSINESS_ACCOUNT_ID)
            session.add(
                MessageTemplate(
                    waba_id=SANDBOX_BUSINESS_ACCOUNT_ID,
                    name=TEMPLATE,
                    family="listing_photo",
                    language="he",
                    category="MARKETING",
                    status="APPROVED",
                    parameter_format="POSITIONAL",
                    components=COMPONENTS,
                )
            )
            listing = Property(city="חיפה", title="דירת גן")
            session.add(listing)
            await session.commit()
        await property_files.add_file(
            db,
            LocalStore(media_dir),
            actor=Actor.system(),
            property_id=listing.id,
            role=PropertyFileRole.PHOTO,
            filename="garden.jpg",
            data=PHOTO.read_bytes(),
        )
        basis = {  # a basis for marketing (ovenai.consent)
            "marketing_basis": "opt_in",
            "marketing_basis_at": utcnow(),
            "marketing_basis_source": "import",
        }
        await outbound.queue_to_new_leads(
            db,
            count,
            template="listing_photo",
            params=["נועה", "חיפה"],
            fields=basis,
            property_id=listing.id,
        )

    return fill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cap", type=int, default=1000, help="simulator cap; 0 = uncapped")
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    port = free_port()
    media_dir = Path(tempfile.mkdtemp(prefix="ovenai-bench-media-"))
    # bench.outbound.run starts the simulator on the port it is given and the workers with
    # this environment: the filler knows where both are.
    setattr(outbound, "free_port", lambda: port)  # noqa: B010 (not exported: set by name)
    os.environ["OVENAI_MEDIA_DIR"] = str(media_dir)
    outbound._fill = filler(f"http://127.0.0.1:{port}", media_dir)
    sending = argparse.Namespace(
        db=args.db,
        workers=args.workers,
        cap=args.cap,
        messages=args.messages,
        in_flight=64,
        batch=0,
    )
    figures: dict[str, Any] = asyncio.run(outbound.bench(sending))
    print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
