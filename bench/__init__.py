"""Benchmarks that print ratios against a baseline measured in the same run (docs/benchmarks.md).

Run them from the repository root as modules, e.g. ``.venv/bin/python -m bench.api_latency``,
so that ``tests.support.services`` (the Mosquitto/PostgreSQL harness) can be imported.
"""
