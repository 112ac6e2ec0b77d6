"""Receiving Meta's POSTs: the checks they must pass, then the sealed, committed body."""
