"""Is Meta's Graph API reachable, and does it accept our access token?

A worker asks every :data:`CHECK_EVERY_S` (the timed job ``graph.check``), never a health
probe: the cheapest authenticated call the product already makes, the first page of one
template of the business account (``GET /{waba}/message_templates?limit=1``). The outcome
is kept in ``system_flags`` (``graph_api``: when, how long it took, Meta's code and kind of
failure — never the token), so ``/health`` in any process shows it and the alert rule
``graph_api`` (:mod:`ovenai.alert_rules`) fires when the newest check failed: critical when
Meta refused the token, a warning when it could not be reached.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ovenai import dialects
from ovenai.cloudapi import CloudApiClient, CloudApiFailure, ErrorKind
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.errors import CloudApiError
from ovenai.models import SystemFlag

FLAG = "graph_api"
CHECK_EVERY_S = 300.0
STALE_AFTER_S = 3 * CHECK_EVERY_S  # no newer check: no worker has been checking
_MESSAGE_CHARS = 200


@dataclass(frozen=True)
class GraphCheck:
    """One check's outcome; ``kind`` is the failure's kind (``auth``: the token)."""

    ok: bool
    checked_at: datetime
    latency_ms: float
    code: int | None = None
    kind: str | None = None
    message: str | None = None

    @property
    def token_rejected(self) -> bool:
        """Whether Meta refused the access token (every send would fail alike)."""
        return self.kind == ErrorKind.AUTH.value

    def to_json(self) -> str:
        """The flag's value."""
        values = asdict(self) | {"checked_at": self.checked_at.isoformat()}
        return json.dumps(values)

    @classmethod
    def from_json(cls, value: str) -> GraphCheck:
        """Read a flag's value back."""
        values = json.loads(value)
        return cls(**(values | {"checked_at": datetime.fromisoformat(values["checked_at"])}))


async def run(db: Database, client: CloudApiClient, *, waba_id: str | None) -> GraphCheck:
    """Make the call, time it, and record its outcome."""
    started = time.perf_counter()
    try:
        async for _template in client.iter_templates(waba_id=waba_id, limit=1):
            break
    except CloudApiFailure as exc:
        result = _failed(started, code=exc.code, kind=exc.kind.value, message=str(exc))
    except CloudApiError as exc:  # not a Graph answer at all (e.g. a refused connection)
        result = _failed(started, code=None, kind=ErrorKind.TRANSIENT.value, message=str(exc))
    else:
        result = GraphCheck(ok=True, checked_at=utcnow(), latency_ms=_elapsed_ms(started))
    async with db.session() as session:
        statement = dialects.insert(session, SystemFlag).values(
            name=FLAG, value=result.to_json(), updated_at=result.checked_at
        )
        statement = statement.on_conflict_do_update(
            index_elements=[SystemFlag.name],
            set_={"value": result.to_json(), "updated_at": result.checked_at},
        )
        await session.execute(statement)
        await session.commit()
    return result


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _failed(started: float, *, code: int | None, kind: str, message: str) -> GraphCheck:
    return GraphCheck(
        ok=False,
        checked_at=utcnow(),
        latency_ms=_elapsed_ms(started),
        code=code,
        kind=kind,
        message=message[:_MESSAGE_CHARS],
    )


async def newest(session: AsyncSession) -> GraphCheck | None:
    """The newest recorded check (None: no worker has checked yet)."""
    flag = await session.get(SystemFlag, FLAG)
    return None if flag is None else GraphCheck.from_json(flag.value)
