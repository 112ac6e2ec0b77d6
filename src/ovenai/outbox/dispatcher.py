"""The outbound dispatcher: claim due messages, hold what the limits hold, send, record.

One :meth:`Dispatcher.step` is "process one batch, return whether there was work":

1. claim up to a batch of due messages (attempt recorded before the call, see ``claims``),
   no more than this worker's share of the number's rate sends before half the claim has
   run out (:mod:`ovenai.outbox.claim_size`);
2. fail at once what the rules now forbid (window closed, opted out, lead erased); give
   back marketing claimed in a quiet time, due when it ends (:mod:`ovenai.quiet_hours`);
3. hold back what the messaging-limit tier or the pair limit holds (back to ``queued``
   with a later ``next_attempt_at``; the attempt is refunded: a held message is not failed);
4. put the rest in the worker's :class:`~ovenai.outbox.send_line.SendLine`, which starts
   each send at its own slot of the number's shared throughput bucket, with at most
   ``concurrency`` requests in flight;
5. each send's outcome is recorded after the call (``outcomes.Recorder``), and failures
   follow :mod:`ovenai.outbox.retry` (a throttled try is refunded, and counted apart so
   that its waits grow); an invalid token pauses all sending
   (:mod:`ovenai.outbox.pause`); a BSUID Meta refuses (131062) is tried once as the
   lead's number.

:meth:`Dispatcher.run` repeats steps while sends are in flight, until told to stop; then it
stops claiming, lets in-flight sends finish, gives back what it has not sent, and flushes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket

from ovenai.cloudapi import CloudApiClient, SendResult
from ovenai.cloudapi.errors import CloudApiFailure, ErrorDetails, ErrorKind, TransientError
from ovenai.cloudapi.payloads import ParamValue, QuickReplyButton, ReplyButton
from ovenai.columns import utcnow
from ovenai.db import Database
from ovenai.metrics import OUTBOX_ERRORS, OUTBOX_GIVEN_BACK, OUTBOX_LIMIT_WAITS, OUTBOX_SENDS
from ovenai.outbox import claims
from ovenai.outbox.admission import admit
from ovenai.outbox.bucket_store import Buckets
from ovenai.outbox.claim_size import ClaimSize
from ovenai.outbox.claims import Job
from ovenai.outbox.dispatch_config import DispatchConfig
from ovenai.outbox.outcomes import Recorder
from ovenai.outbox.pacing import Pacer, Unpaced
from ovenai.outbox.pause import PAUSED_HOLD_S, PauseCache
from ovenai.outbox.retry import BSUID_REFUSED_CODE, Action, Verdict
from ovenai.outbox.send_line import SendLine
from ovenai.property_files import FileRemoved, Uploaded, Uploads

log = logging.getLogger("ovenai.outbox")
# After a step failed (its database unreachable, or a bug), wait this long before the next
# one, so that a failing database is not hammered in a loop nor the log flooded. No reason
# for exactly 1 s is recorded.
STEP_RETRY_S = 1.0
# A message given back unsent (the worker stops, or its claim is about to lapse) is due at
# once, for whichever worker claims next.
GIVE_BACK_S = 0.0


def _count(job: Job, outcome: str) -> None:
    """Count one send attempt's outcome (templates by name: a small, fixed set)."""
    OUTBOX_SENDS.labels(kind=job.kind, template=job.template_name or "", outcome=outcome).inc()


MEDIA_UPLOAD_ERROR = 131053
"""Meta could not use the media sent: for an upload of ours, it no longer has it."""


def new_worker_id() -> str:
    """A name for this worker process that is unique across machines."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def _pacer(buckets: Buckets, config: DispatchConfig) -> Pacer | Unpaced:
    """Slots of the number's shared bucket, or none to wait for (unpaced)."""
    if config.messages_per_second is None:
        return Unpaced()
    return Pacer(
        buckets,
        config.number_bucket,
        block_s=config.block_s,
        horizon_s=config.horizon_s,
        tolerance_s=config.slot_tolerance_s,
        most=config.concurrency,
    )


class Dispatcher:
    """Sends the outbox through one Cloud API client within the shared limits."""

    def __init__(
        self,
        db: Database,
        client: CloudApiClient,
        buckets: Buckets,
        config: DispatchConfig,
        *,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        token_id: str = "",
        uploads: Uploads | None = None,
    ) -> None:
        self.db = db
        self.client = client
        self.uploads = uploads  # listing files' uploads to Meta (ovenai.property_files)
        self.buckets = buckets
        self.config = config
        self.worker_id = worker_id or new_worker_id()
        self.rng = rng or random.Random()
        self.recorder = Recorder(db, self.worker_id)
        self.pause = PauseCache(db, token_id)  # token_id: the token's fingerprint
        self._batch = config.claim_batch
        self.sizes = ClaimSize(db, config, self.worker_id)
        # Claim again while two batches are still waiting or in flight: the next claim
        # (database, decryption, limits) then runs while a whole batch is still being sent,
        # and sending never waits for it (unpaced: one batch ahead ~2,750/s, two ~3,000).
        self.line = SendLine(
            _pacer(buckets, config),
            self._deliver,
            concurrency=config.concurrency,
            ahead=2 * self._batch,
            late=self._given_back_late,
        )
        # claimed ahead (step): the jobs, and whether the claim was full
        self._next_claim: asyncio.Task[tuple[list[Job], bool]] | None = None
        self._was_full = False  # whether the line was full before the last step
        self._nudged = asyncio.Event()  # wake(): something was queued in this process

    # -- one step ---------------------------------------------------------------------------

    async def step(self) -> bool:
        """Claim one batch and queue it for sending; whether there was work.

        A full claim means more is probably due: the next claim (transaction and decryption)
        starts at once and runs while this batch is admitted and sent (one after the other,
        the claims left an unpaced SQLite worker's sends idle between batches), if this
        worker's share of the rate can send it in time behind this one (``claim_size``).
        """
        if self.line.full() or self.line.closing or await self.pause.paused():
            return False
        jobs, full = await self._claimed()
        if not jobs:
            return False
        if full:
            ahead = await self.sizes.limit(self.line.outstanding() + len(jobs))
            if ahead:
                self._next_claim = asyncio.create_task(self._claim(ahead))
        await self._admit(jobs)
        self.line.start()
        return True

    async def _claimed(self) -> tuple[list[Job], bool]:
        """The batch claimed ahead, or one claimed now if that found none (or there is none),
        and whether the claim was full (took all it asked for).

        One claimed ahead ran while the batch before was still being sent: messages that
        waited for an earlier one to the same lead may have become due since.
        """
        ahead, self._next_claim = self._next_claim, None
        if ahead is not None:
            jobs, full = await ahead
            if jobs:
                return jobs, full
        limit = await self.sizes.limit(self.line.outstanding())
        if not limit:  # the line holds what this worker can send in time: claim later
            return [], False
        return await self._claim(limit)

    async def _give_back_claimed_ahead(self) -> None:
        """Return a batch claimed ahead to the queue (stopping)."""
        ahead, self._next_claim = self._next_claim, None
        if ahead is None:
            return
        try:
            jobs, _ = await ahead
        except Exception:  # its transaction rolled back: nothing was claimed
            log.exception("claiming ahead failed")
            return
        for job in jobs:
            self._give_back(job, "stopping")

    async def _claim(self, limit: int) -> tuple[list[Job], bool]:
        """Claim up to ``limit`` due messages; the jobs, and whether all ``limit`` were."""
        now = utcnow()
        # Send only while the claim is safely ours: a job still waiting (the number's bucket
        # held by a penalty) when half its claim has run out goes back to the queue instead.
        send_by = asyncio.get_running_loop().time() + self.config.claim_ttl_s / 2
        async with self.db.session() as session:
            rows = await claims.claim(
                session,
                worker=self.worker_id,
                limit=limit,
                ttl_s=self.config.claim_ttl_s,
                now=now,
            )
            await session.commit()
        jobs = await claims.load_jobs(self.db.vault, rows, now)
        for job in jobs:
            job.send_by = send_by
        await self._files(jobs)
        return jobs, len(rows) >= limit

    async def _files(self, jobs: list[Job]) -> None:
        """The claimed batch's listing files, in one query: a removed one fails its message
        (a problem, like the rules'), a fresh upload rides along (no lookup per send)."""
        wanted = {job.file_id for job in jobs if job.file_id and not job.problem}
        if not wanted or self.uploads is None:
            return
        known = await self.uploads.known(wanted)
        for job in jobs:
            if job.file_id not in wanted:
                continue
            if job.file_id in known:
                job.uploaded = known[job.file_id]
            else:
                job.problem = "the file was removed from its listing"

    async def _admit(self, jobs: list[Job]) -> None:
        """Fail what the rules forbid, hold what the limits hold, line up the rest."""
        admission = await admit(self.db, self.buckets, self.config, jobs)
        if admission.quiet:
            async with self.db.session() as session:
                until = {job.id: when for job, when in admission.quiet}
                await claims.defer(session, worker=self.worker_id, until=until, now=utcnow())
                await session.commit()
            for job, _ in admission.quiet:
                _count(job, "quiet")
        for job in admission.refused:
            _count(job, "refused")
            self.recorder.refused(job.id, job.problem or "")
        for job, wait in admission.held:
            OUTBOX_LIMIT_WAITS.observe(wait)
            self.recorder.hold(job.id, wait)
        for job, delay in admission.ready:
            if delay > 0:
                OUTBOX_LIMIT_WAITS.observe(delay)
            self.line.queue(job, delay)

    # -- one send ---------------------------------------------------------------------------

    async def _deliver(self, job: Job, deadline: float) -> None:
        """Send one job at its slot (unless it must wait) and record what came of it."""
        if self._set_aside(job, deadline):
            return
        try:
            result = await self._call(job)
        except FileRemoved as exc:
            _count(job, "failed")
            self.recorder.refused(job.id, str(exc) or "the file was removed from its listing")
            return
        except CloudApiFailure as exc:
            await self._failed(job, exc)
            return
        except Exception as exc:  # a bug must not lose the message: retry like a fault
            log.exception("unexpected error sending message %s", job.id)
            info = ErrorDetails(http_status=0, message=f"{type(exc).__name__}: {exc}")
            await self._failed(job, TransientError(info))
            return
        _count(job, "accepted")
        self.recorder.sent(job.id, result.message_id)

    def _set_aside(self, job: Job, deadline: float) -> bool:
        """Whether the job must not be sent now (it is given back or lined up again)."""
        now = asyncio.get_running_loop().time()
        if self.line.closing or self.pause.holds(now):
            # Stopping gets the pause's hold too; no reason is recorded why a send stopped
            # here is not due at once like the jobs given back unsent.
            self.recorder.hold(job.id, PAUSED_HOLD_S)
            return True
        if self._given_back_late(job):
            return True
        if now > deadline:  # woken too late for the slot: wait for another one
            self.line.make_ready(job, first=True)
            return True
        return False

    def _given_back_late(self, job: Job) -> bool:
        """Whether our claim on the job may soon lapse: then it is given back, unsent, and
        whoever claims it next sends it (checked before it takes a slot, and at its slot)."""
        if asyncio.get_running_loop().time() <= job.send_by:
            return False
        self._give_back(job, "late")
        return True

    def _give_back(self, job: Job, reason: str) -> None:
        """Return a claimed job to the queue unsent, due at once, and count it."""
        OUTBOX_GIVEN_BACK.labels(reason=reason).inc()
        self.recorder.hold(job.id, GIVE_BACK_S)

    async def _call(self, job: Job) -> SendResult:
        if job.file_id is not None or job.kind in claims.FILES:  # or a template's media header
            return await self._with_file(job)
        return await self._send(job)

    async def _send(self, job: Job, file: Uploaded | None = None) -> SendResult:
        if job.kind in claims.FILES and file is not None:
            return await self.client.send_media(
                kind="document" if file.kind == "document" else "image",
                media_id=file.media_id,
                caption=job.text or None,
                filename=file.filename if file.kind == "document" else None,
                to=job.to,
                recipient=job.recipient,
                callback_data=job.id,
            )
        if job.kind == "interactive":
            return await self.client.send_interactive_buttons(
                body=job.text or "",
                buttons=[ReplyButton(id=id_, title=title) for id_, title in job.buttons],
                to=job.to,
                recipient=job.recipient,
                callback_data=job.id,
            )
        if job.kind == "text":
            return await self.client.send_text(
                text=job.text or "",
                to=job.to,
                recipient=job.recipient,
                preview_url=job.preview_url,
                callback_data=job.id,
            )
        header: list[ParamValue] = list(job.header_params)
        if file is not None:  # the template's image or document header
            media: dict[str, str] = {"id": file.media_id}
            if file.kind == "document":
                media["filename"] = file.filename
            header = [{"type": file.kind, file.kind: media}]
        return await self.client.send_template(
            name=job.template_name or "",
            language=job.template_language or "",
            to=job.to,
            recipient=job.recipient,
            body_params=job.body_params,
            header_params=header,
            buttons=[QuickReplyButton(i, payload) for i, payload in enumerate(job.quick_replies)],
            callback_data=job.id,
        )

    async def _with_file(self, job: Job) -> SendResult:
        """A send carrying a listing's file by Meta's media id, uploaded first when there is
        none or it is old; when Meta says it no longer has the upload (131053), uploaded
        again, once."""
        if job.file_id is None:
            raise FileRemoved("the message names no file to send")
        if self.uploads is None:
            raise FileRemoved("this worker was started without the media store")
        renew = False
        while True:
            file = job.uploaded
            if file is None or renew:
                file = await self.uploads.media_id(job.file_id, renew=renew)
            try:
                return await self._send(job, file)
            except CloudApiFailure as exc:
                if exc.code != MEDIA_UPLOAD_ERROR or renew:
                    raise
                renew = True

    async def _failed(self, job: Job, exc: CloudApiFailure) -> None:
        OUTBOX_ERRORS.labels(code=str(exc.code or 0)).inc()
        if exc.code == BSUID_REFUSED_CODE and job.fall_back_to_number():
            self.line.make_ready(job, first=True)  # to the number, at the next free slot
            _count(job, "retry")
            return
        verdict = self.config.policy.decide(
            exc, job.attempts, self.rng, throttled=job.throttled_attempts
        )
        if verdict.action is Action.PAUSE:
            _count(job, "paused")
            await self.pause.pause(code=exc.code, reason=exc.message)
            self.recorder.hold(job.id, PAUSED_HOLD_S, exc)
            return
        if verdict.action is Action.FAIL:
            _count(job, "failed")
            self.recorder.failed(job.id, exc)
            return
        await self._slow_down(job, verdict)
        if exc.kind is ErrorKind.THROTTLED:
            # A limit, not a fault: the attempt is free, but counted apart (the waits grow).
            _count(job, "throttled")
            self.recorder.throttled(job.id, verdict.delay_s, exc)
        else:
            _count(job, "retry")
            self.recorder.retry(job.id, verdict.delay_s, exc, refund=False)

    async def _slow_down(self, job: Job, verdict: Verdict) -> None:
        bucket = self.config.slowed_bucket(verdict.slow_down, job.lead_id)
        if bucket is None:
            return
        try:
            await self.buckets.penalize(bucket, verdict.slow_down_s)
        except Exception:
            log.exception("could not slow down %s", bucket.name)

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Step until ``stop`` is set; then finish in-flight sends and give back the rest."""
        recorder_stop = asyncio.Event()
        recording = asyncio.create_task(self.recorder.run(recorder_stop))
        try:
            while not stop.is_set():
                self._was_full = self.line.full()
                worked = await self._safe_step()
                if not worked:
                    await self._wait(stop)
        finally:
            await self._shut_down()
            recorder_stop.set()
            await recording
            log.info("worker %s: %d sending slots missed", self.worker_id, self.line.pacer.missed)

    async def _shut_down(self) -> None:
        """Start nothing more, let the sends in flight finish, give back the rest."""
        await self.line.close()
        await self._give_back_claimed_ahead()
        await self.line.finish_in_flight()
        for job in self.line.take_unsent():
            self._give_back(job, "stopping")

    async def _safe_step(self) -> bool:
        try:
            return await self.step()
        except Exception:
            log.exception("dispatcher step failed; trying again shortly")
            await asyncio.sleep(STEP_RETRY_S)
            return False

    def wake(self) -> None:
        """Look for due messages now rather than at the next poll (this process queued some:
        the webhook processor beside it, whose automation answered a lead)."""
        self._nudged.set()

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until stopped, room for a whole batch, a :meth:`wake`, or ``poll_s`` (something
        may be due)."""
        room = self.line.room
        room.clear()
        if self._was_full and not self.line.full():
            return
        if self._nudged.is_set():
            self._nudged.clear()
            return
        waiters = {
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(room.wait()),
            asyncio.ensure_future(self._nudged.wait()),
        }
        _, pending = await asyncio.wait(
            waiters, timeout=self.config.poll_s, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            waiter.cancel()
        self._nudged.clear()

    async def drain(self, *, timeout: float = 30.0) -> None:
        """Send until nothing is due or in flight (tests and one-shot runs)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    worked = await self.step()
                    await self.line.settle()
                    await self.recorder.flush()
                    if not worked:
                        return
        finally:
            await self.line.stop()
            await self._give_back_claimed_ahead()
            await self.recorder.flush()
