"""Tier 1: every library notebook's lesson cells run and pass, as `nbdev-test` runs them.

Each notebook runs in its own process (like `nbdev-test`), so one notebook's torch threads, seeds or globals cannot
leak into the next; cells flagged `#| slow` or `#| cuda` are skipped (pyproject `tst_flags`).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from notebooks import library_notebooks

NBDEV_TEST = Path(sys.executable).with_name("nbdev-test")


@pytest.mark.parametrize("nb", library_notebooks(), ids=lambda p: p.stem)
def test_lesson_cells(nb):
    env = {**os.environ, "AS3L_QUIET": "1"}
    res = subprocess.run([str(NBDEV_TEST), str(nb)], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, f"{nb.name} lesson cells failed:\n{res.stderr[-4000:]}"


def test_learning_notebooks_cover_every_stage():
    "CI's second numeric path runs these; each stage notebook trains or asserts a learned quality, so each is in."
    from notebooks import learning_notebooks
    names = {p.stem for p in learning_notebooks()}
    assert {"03_simsiam", "04_cluster", "05_active", "06_propagate", "07_flexmatch"} <= names, names
