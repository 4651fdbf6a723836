"""The harness that tests and benchmarks share: Quarry as separate processes, fake endpoints that
Quarry talks to over the wire (a model, an embeddings API, a webhook receiver), PostgreSQL
databases and free ports.

One implementation of each, so that what a test checks and what ``bench/`` measures run Quarry the
same way. Pytest imports it as ``tests.harness`` (the repository root is on its path); bench
scripts import it after ``bench/repo_root.py`` has put the repository root on ``sys.path``. It
imports nothing from ``quarry`` and nothing from pytest, and product code (``src/quarry``) never
imports it.
"""
