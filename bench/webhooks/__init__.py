"""Webhook ingestion benchmarks: acknowledgement (ack.py) and status application (apply.py)."""
