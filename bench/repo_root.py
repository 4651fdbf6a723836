"""Puts the repository root on ``sys.path``: the one place where bench scripts find the code they share.

A script run as ``python bench/<name>.py`` (from the root or from anywhere else) has only ``bench/``
on its path. Importing this module (``import repo_root  # noqa: F401``) lets it import
``tests.harness`` (the processes, fake endpoints and databases that the tests use too) and
``bench.<other script>`` afterwards; isort keeps it there, among the third-party imports, which
come before the first-party ``bench``, ``quarry`` and ``tests``. Nothing needs installing by hand;
``quarry`` itself comes from the installed package (``pip install -e .``) or ``PYTHONPATH=src``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
