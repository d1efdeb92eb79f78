"""Benchmarks: each module prints numbers (``python -m bench.<name>``); they are not timed tests."""
