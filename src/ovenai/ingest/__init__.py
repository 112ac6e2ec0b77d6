"""Meta's WhatsApp webhooks taken in: received, parsed into typed events, applied.

One sub-package per step, in the order a body goes through them:

* ``receive``: the POST's checks (size, ``X-Hub-Signature-256``, nesting depth, JSON) and
  the event store that seals and commits the body before Meta gets its 200;
* ``parse``: a stored body decoded into :mod:`ovenai.events` (wire Structs, one parser
  per field, sender identity, dedupe keys);
* ``apply``: a batch of events applied exactly once (inbound messages, statuses,
  preferences, template and account events).

At this level: :mod:`~ovenai.ingest.processor` runs the steps over the stored bodies,
:mod:`~ovenai.ingest.backlog` hands those bodies out as a work queue,
:mod:`~ovenai.ingest.receiver` joins receiving with in-process processing for the web
app, and :mod:`~ovenai.ingest.errors` holds the errors of ingestion.
"""
