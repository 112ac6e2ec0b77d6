"""Growth with data: the same requests at 10^4, 10^5 and 10^6 leads (``python -m bench.growth``)."""
