"""Benchmarks: one script per path; results and commands in bench/README.md."""
