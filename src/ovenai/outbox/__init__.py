"""The outbox: durable sends, shared limits, retries where they help (see docs/architecture.md).

``queue`` puts sends in (in the caller's transaction); ``dispatcher`` takes them out
(``claims``, then ``send_line`` paced by ``pacing``, then ``outcomes``) as its
``dispatch_config`` says, and ``pause`` stops every worker after an invalid token.
``limits`` holds Meta's sending limits (``token_bucket`` arithmetic kept in ``bucket_store``
or ``redis_buckets``; ``messaging_tier``); ``rules`` and ``retry`` hold the policies.
"""
