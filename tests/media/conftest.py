"""Inbound media tests: the simulator (Meta) holds real bytes for the media ids it sends,
webhooks are applied by the real processor, and the worker's fetch job runs against both."""

from __future__ import annotations

import base64
import io
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image
from sqlalchemy import select

from ingest.conftest import Harness
from ovenai import media_fetch
from ovenai.cloudapi import CloudApiClient
from ovenai.db import Database
from ovenai.media_store import open_store
from ovenai.models import Lead, MediaFile
from ovenai.settings import Settings
from ovenai.simulator import SimulatorConfig
from support.simulator import (  # noqa: F401  (fixtures of these tests)
    client,
    control,
    fresh_simulator,
    http,
    sim_config,
    sim_settings,
    simulator,
)
from support.simulator_http import SimControl

LIMIT = 2 * 1024 * 1024


def jpeg_bytes(size: tuple[int, int] = (640, 480)) -> bytes:
    """A real photo-like JPEG."""
    out = io.BytesIO()
    Image.new("RGB", size, (30, 140, 200)).save(out, "JPEG", quality=90)
    return out.getvalue()


PDF = b"%PDF-1.4\n% a lead's payslip\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class MediaWorld:
    """The pieces of an inbound-media test, and helpers to drive them."""

    db: Database
    harness: Harness
    control: SimControl
    fetcher: media_fetch.Fetcher
    root: Path

    async def send(self, kind: str, data: bytes | None = None, **fields: Any) -> MediaFile:
        """The lead sends a file: Meta's webhook is stored and applied; its media row."""
        request: dict[str, Any] = {"from": fields.pop("wa_id", "972521230001"), "type": kind}
        if data is not None:
            request["data_b64"] = base64.b64encode(data).decode()
        request.update(fields, wait=False)
        answer = await self.control.inbound(**request)
        await self.harness.deliver(orjson.dumps(answer["webhook"]))
        async with self.db.session() as session:
            # Meta's times are whole seconds: the newest id (UUIDv7) breaks the tie.
            query = select(MediaFile).order_by(MediaFile.created_at.desc(), MediaFile.id.desc())
            row = await session.scalar(query.limit(1))
        assert row is not None
        return row

    async def fetch(self, now: datetime | None = None) -> media_fetch.Outcome:
        """One run of the worker's job."""
        return await media_fetch.run(self.fetcher, now=now)

    async def row(self, row_id: str) -> MediaFile:
        async with self.db.session() as session:
            found = await session.get(MediaFile, row_id)
        assert found is not None
        return found

    async def lead(self) -> Lead:
        async with self.db.session() as session:
            [lead] = list(await session.scalars(select(Lead)))
        return lead

    def files_on_disk(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file())


@pytest.fixture
async def world(
    db: Database,
    clean_db: Settings,
    client: CloudApiClient,  # noqa: F811  (the fixture imported above)
    control: SimControl,  # noqa: F811
    sim_config: SimulatorConfig,  # noqa: F811
) -> AsyncIterator[MediaWorld]:
    """The store the settings name (the live server serves from it too), emptied first."""
    root = clean_db.data_dir / "media"
    shutil.rmtree(root, ignore_errors=True)
    store = open_store(clean_db)
    fetcher = media_fetch.Fetcher(
        db=db,
        client=client,
        access_token=sim_config.access_token,
        store=store,
        max_bytes=LIMIT,
    )
    yield MediaWorld(db, Harness(db), control, fetcher, root)


def now_ts() -> int:
    return int(time.time())
