"""The outbox: durable sends, shared limits, retries where they help (see docs/architecture.md).

``queue`` puts sends in (in the caller's transaction); ``dispatcher`` takes them out
(claim, limit, send, record); ``limits``, ``rules`` and ``retry`` hold the policies.
"""
