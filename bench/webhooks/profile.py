"""Where the processor's time goes: py-spy samples and SQL timings, by component.

Reads what ``bench.webhooks.ack --profile DIR`` wrote: ``<label>.txt`` (``py-spy record
--format raw --threads``: one ``frame;frame;... count`` line per distinct stack) and
``<label>-sql.json`` (:mod:`bench.webhooks.sql_trace`), and prints two tables:

* **CPU**: the samples in which a thread of the processor was running, by component. A
  sample goes to the first component (in the order of :data:`COMPONENTS`) one of whose
  patterns names a frame of its stack; a thread waiting (the event loop in ``epoll``, an
  aiosqlite thread waiting for work) is idle and left out. SQLAlchemy's async layer runs
  each statement in a greenlet, whose frames py-spy sees without the caller's: those
  samples are placed by their outermost frame (:data:`GREENLET_ROOTS`).
* **Wall**: SQL statements, commits and key-store calls by kind: calls per applied body,
  mean time each, and their share of the time the processor spent in batches.

    .venv/bin/python -m bench.webhooks.profile /tmp/prof/text-sqlite-separate-1
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hooks", ("run_after_inbound ", "run_after_status ", "_isolated ", "run_hooks ")),
    ("key store: fetch + unwrap", ("Vault._load ", "KeyRing.unwrap ")),
    (
        "key store: new lead key (wrap + commit)",
        ("Vault._create ", "Vault._store ", "Vault._made ", "KeyRing.wrap "),
    ),
    ("blind indexes (HMAC)", ("blind_index ", "Vault.index ", "name_index ")),
    ("phone normalisation (phonenumbers)", ("from_wa_id ", "(phonenumbers/")),
    ("body: open (AES-GCM, hour key)", ("open_body ",)),
    ("body: JSON decode + parse", ("parse_webhook ",)),
    (
        "sealing message + lead (AES-GCM)",
        ("seal_into ", "RowCipher.seal ", "payload_json ", "SealedTable.sealed "),
    ),
    ("opening lead fields (AES-GCM)", ("open_from ", "decrypt_text ")),
    ("lead lookup (SELECT by blind index)", ("find_by_identity ", "_held_by_other ")),
    ("senders: one SELECT a run (SenderBook.load)", ("SenderBook.load ",)),
    ("senders: matched in memory (SenderBook.lead_for)", ("SenderBook.lead_for ",)),
    ("leads: INSERT new, UPDATE changed, name tokens (SenderBook.write)", ("SenderBook.write ",)),
    ("new lead: rows + name tokens", ("create_sender_lead ", "set_name_tokens ")),
    ("lead identity refresh", ("refresh_identity ",)),
    ("per-message ORM flush + Message row (UPDATE lead, INSERT message)", ("_apply_item ",)),
    ("messages: rows + one INSERT a run (apply_inbound_run)", ("apply_inbound_run ",)),
    ("dedupe keys (applied_items)", ("claim_keys ",)),
    ("statuses", ("_apply_status_items ", "apply_statuses ", "apply_waiting ")),
    ("batch claim (SELECT pending)", ("lock_batch ",)),
    ("settle: failures, finish, link leads", ("_settle ", "_link_leads ")),
    ("commit", ("AsyncSession.commit ", "Session.commit ")),
    ("metrics, report", ("Processor._count ",)),
)
GREENLET_ROOTS: tuple[tuple[str, str], ...] = (
    ("Session.flush ", "per-message ORM flush + Message row (UPDATE lead, INSERT message)"),
    ("Session.scalar ", "lead lookup (SELECT by blind index)"),
    ("Session.commit ", "commit"),
)
IDLE_LEAVES = (
    "EpollSelector.select ",
    "epoll_wait ",
    "_connection_worker_thread (aiosqlite/core.py:59)",
    "Condition.wait ",
    "Event.wait ",
)
SQLITE_THREAD = "SQLite engine (aiosqlite threads)"
ELSE = "event loop, greenlets, SQLAlchemy core (other)"


def component(frames: list[str]) -> str | None:
    """The component of one sampled stack (root first), or None when the thread was idle."""
    leaf = frames[-1]
    if any(leaf.startswith(idle) for idle in IDLE_LEAVES):
        return None
    if frames[0].startswith("thread") and "_connection_worker_thread" in frames[0]:
        return SQLITE_THREAD
    for name, patterns in COMPONENTS:
        if any(_names(frame, pattern) for frame in frames for pattern in patterns):
            return name
    body = frames[1:] if frames[0].startswith("thread") else frames
    if body and "_run_module_as_main" not in body[0]:
        for root, name in GREENLET_ROOTS:
            if body[0].startswith(root):
                return name
    return ELSE


def _names(frame: str, pattern: str) -> bool:
    """A pattern ``function `` names a frame's function; ``(path/`` a file of it."""
    return frame.startswith(pattern) if pattern.endswith(" ") else pattern in frame


def cpu_table(raw: Path) -> tuple[Counter[str], int, int, tuple[int, int]]:
    """Samples by component; the total and idle sample counts; the main thread's busy and
    total samples (how much of its time the event loop's thread was running)."""
    found: Counter[str] = Counter()
    total = idle = main_busy = main_total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = stack.split(";")
        name = component(frames)
        main = "MainThread" in frames[0]
        main_total += samples if main else 0
        if name is None:
            idle += samples
        else:
            found[name] += samples
            main_busy += samples if main else 0
    return found, total, idle, (main_busy, main_total)


def show(label: Path) -> None:
    """Print both tables for one profiled run."""
    raw = label.with_name(label.name + ".txt")
    found, total, idle, (main_busy, main_total) = cpu_table(raw)
    busy = total - idle
    print(
        f"{raw}: {total} samples, {busy} busy ({idle} idle); the event loop's thread ran"
        f" in {100 * main_busy / max(main_total, 1):.0f} % of its samples"
    )
    print("| component | % of processor CPU |")
    print("| --- | --- |")
    for name, samples in found.most_common():
        print(f"| {name} | {100 * samples / busy:.1f} |")
    sql = label.with_name(label.name + "-sql.json")
    if not sql.exists():
        return
    trace = json.loads(sql.read_text())
    busy_s = float(trace["seconds"].pop("batches", 0.0)) or float(trace["wall_s"])
    batches = trace["calls"].pop("batches", 1)
    bodies = trace["calls"].pop("bodies", 0) or 1
    print(
        f"\n{sql}: {bodies:,} bodies in {batches:,} batches, {busy_s:.1f} s in batches"
        f" ({1e6 * busy_s / bodies:,.0f} µs a body) of {trace['wall_s']:.1f} s alive"
    )
    print("| statement or call | calls a body | mean | share of the batches' time |")
    print("| --- | --- | --- | --- |")
    for kind, seconds in sorted(trace["seconds"].items(), key=lambda item: -item[1]):
        calls = trace["calls"][kind]
        print(
            f"| {kind} | {calls / bodies:.2f} | {1e6 * seconds / calls:,.0f} µs"
            f" | {100 * seconds / busy_s:.1f} % |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", nargs="+", type=Path, help="DIR/<kind>-<db>-<processing>-<n>")
    for label in parser.parse_args().labels:
        show(label)
        print()


if __name__ == "__main__":
    main()
