"""Contracts between notebooks and the package: parameters cells, configs, sync and hygiene."""
import dataclasses
import typing

import papermill as pm
import pytest

from notebooks import library_notebooks, read_nb, tutorial_notebooks

# Parameters a tutorial may hold that are not AS3LConfig fields: they choose a preset or span an experiment grid.
NOTEBOOK_ONLY = {"preset", "seeds", "budgets", "strategies", "n_clusterings_list", "k_lists", "labels_per_class",
                 "n_images", "source", "open_in_colab", "backbones", "weights_files",
                 "max_test", "flex_factor", "n_evals", "audit_size"}


def _config_fields():
    from as3l.pipeline import AS3LConfig
    return {f.name: f for f in dataclasses.fields(AS3LConfig)}, AS3LConfig


@pytest.mark.parametrize("nb", tutorial_notebooks(), ids=lambda p: p.stem)
def test_parameters_match_config(nb):
    params = pm.inspect_notebook(str(nb))
    assert "preset" in params and "run_dir" in params, f"{nb.name}: parameters cell needs `preset` and `run_dir`"
    fields, AS3LConfig = _config_fields()
    unknown = set(params) - set(fields) - NOTEBOOK_ONLY
    assert not unknown, f"{nb.name}: parameters {sorted(unknown)} are neither AS3LConfig fields nor notebook-only"
    # every parameter default is a plain literal of the config field's type
    for name, p in params.items():
        if name not in fields: continue
        default = eval(p["default"], {})
        field_type = fields[name].type if not isinstance(fields[name].type, str) else None
        sample = getattr(AS3LConfig(), name)
        if sample is not None and default is not None:
            ok = isinstance(default, type(sample)) or (isinstance(sample, float) and isinstance(default, int)) \
                 or (isinstance(sample, tuple) and isinstance(default, list))
            assert ok, f"{nb.name}: parameter {name}={default!r} does not match config type {type(sample).__name__}"


@pytest.mark.parametrize("nb", tutorial_notebooks(), ids=lambda p: p.stem)
def test_parameters_cell_is_plain_literals(nb):
    cells = [c for c in read_nb(nb)["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"{nb.name}: needs exactly one cell tagged `parameters` (nbdev-clean keeps tags)"
    import ast
    tree = ast.parse("".join(cells[0]["source"]))
    for node in tree.body:
        assert isinstance(node, ast.Assign), f"{nb.name}: parameters cell holds only assignments"
        ast.literal_eval(node.value)  # raises on anything but a literal


@pytest.mark.parametrize("nb", library_notebooks(), ids=lambda p: p.stem)
def test_library_notebook_layout(nb):
    cells = read_nb(nb)["cells"]
    src = ["".join(c["source"]) for c in cells]
    if nb.stem != "index":
        assert any(s.strip().startswith("#| default_exp") for s in src), f"{nb.name}: no `#| default_exp`"
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"][0].startswith("# "), f"{nb.name}: title cell"
    for c in cells:
        for out in c.get("outputs", []):
            assert out.get("output_type") != "error", f"{nb.name}: stored error output"
