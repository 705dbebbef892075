"Which notebooks exist and what kind each is: library notebooks (lesson cells) or tutorials (papermill runs)."
import json
from pathlib import Path

NBS = Path(__file__).resolve().parents[1] / "nbs"


def library_notebooks():
    "Numbered notebooks below 10 (`00_core` ... `08_pipeline`): they export a module and their lesson cells are tests."
    return sorted(NBS.glob("0*.ipynb")) + [NBS / "index.ipynb"]


def tutorial_notebooks():
    "Notebooks numbered 10 and up (tutorials, the paper's experiments): papermill runs them with smoke parameters."
    return sorted(p for p in NBS.glob("[1-9][0-9]_*.ipynb"))


def read_nb(path):
    return json.loads(Path(path).read_text())


LEARNING_MARKERS = ("check_above(", "train_simsiam(", "train_ssl(", "finetune_features(")


def learning_notebooks():
    "Library notebooks whose lesson cells train a model or assert a learned quality: CI runs them on a second numeric path."
    return [p for p in library_notebooks() if any(m in p.read_text() for m in LEARNING_MARKERS)]


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["--learning-k"]: print(" or ".join(p.stem for p in learning_notebooks()))
    else: sys.exit("usage: python tests/notebooks.py --learning-k   (pytest -k expression of the learning notebooks)")
