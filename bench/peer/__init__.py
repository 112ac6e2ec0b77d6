"""The peer in the same run: pywa (bench/README.md, "The peer in the same run").

pywa lives in its own virtualenv (:mod:`bench.peer.venv`), never in the project's: the
files ``pywa_server.py`` and ``pywa_send.py`` are run by that venv's interpreter only.
"""
