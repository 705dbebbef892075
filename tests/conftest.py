"Shared test set-up: quiet progress bars, repository paths."
import os
from pathlib import Path

import pytest

os.environ.setdefault("AS3L_QUIET", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"


@pytest.fixture(scope="session")
def root():
    return ROOT
