"The README is the index notebook, and its two set-up commands are the ones CI runs."
from readme import ROOT, readme_from_index


def test_readme_matches_index():
    assert (ROOT / "README.md").read_text() == readme_from_index(), "README.md is stale: run `python tests/readme.py`"


def test_readme_holds_the_two_setup_commands():
    text = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    install = 'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]" && .venv/bin/as3l run --dataset digits'
    assert install in text
    assert "\n.venv/bin/python -m pytest\n" in text
    assert '.venv/bin/pip install -q -e ".[dev]"' in ci and ".venv/bin/python -m pytest" in ci
