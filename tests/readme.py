"""README.md is generated from nbs/index.ipynb (nbdev-readme needs Quarto, which this machine cannot install).

Run `python tests/readme.py` after editing the index notebook; `test_readme_matches_index` fails when they differ.
"""
from pathlib import Path

from notebooks import NBS, read_nb

ROOT = NBS.parent


def readme_from_index(index=NBS / "index.ipynb") -> str:
    "Markdown cells as they are, code cells as Python blocks without nbdev directives; hidden cells dropped."
    parts = []
    for cell in read_nb(index)["cells"]:
        src = "".join(cell["source"]).strip()
        if not src: continue
        lines = src.splitlines()
        if cell["cell_type"] == "code":
            if any(l.strip() in ("#| hide", "#|hide") for l in lines): continue
            code = "\n".join(l for l in lines if not l.lstrip().startswith("#|")).strip()
            if code: parts.append(f"```python\n{code}\n```")
        else:
            parts.append(src)
    text = "\n\n".join(parts) + "\n"
    return "<!-- generated from nbs/index.ipynb by tests/readme.py: edit the notebook, not this file -->\n\n" + text


if __name__ == "__main__":
    (ROOT / "README.md").write_text(readme_from_index())
    print("wrote README.md")
