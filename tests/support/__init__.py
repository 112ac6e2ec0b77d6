"""Helpers shared by test modules (importable: pytest puts tests/ on the path)."""
