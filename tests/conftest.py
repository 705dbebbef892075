"Shared test set-up: quiet progress bars, repository paths."
import os
from pathlib import Path

import pytest

os.environ.setdefault("AS3L_QUIET", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# One BLAS/OpenMP thread per process: on 2 cores, tiny models gain nothing from more and lose badly when anything
# else runs beside them (measured: SimSiam digits 0.08 s/step with 1 thread, 1.4 s with 2 under load).
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"


@pytest.fixture(scope="session")
def root():
    return ROOT
