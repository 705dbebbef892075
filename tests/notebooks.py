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
