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


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    "A folder `photos` of 60 digit PNGs and the labels an expert would give them."
    from PIL import Image
    from as3l.data import load_dataset
    d = tmp_path_factory.mktemp("cli") / "photos"
    d.mkdir()
    tr, _ = load_dataset("digits")
    truth = {}
    for i in range(60):
        Image.fromarray(tr.x[i, 0].numpy()).save(d / f"d{i:02d}.png")
        truth[f"d{i:02d}.png"] = str(int(tr.y[i]))
    return d, truth
