"""Tier 2: papermill runs every tutorial / experiment notebook end to end with smoke parameters.

Each tutorial's parameters cell holds `preset` and `run_dir`; the driver sets `preset='smoke'` and a `run_dir` under
`tmp_path`, and the notebook must write `metrics.json` there (through `run_as3l` or its experiment loop).
"""
import json
import math

import papermill as pm
import pytest

from notebooks import NBS, tutorial_notebooks


def _finite_numbers(obj):
    "All numbers in a nested JSON object."
    if isinstance(obj, dict):
        for v in obj.values(): yield from _finite_numbers(v)
    elif isinstance(obj, list):
        for v in obj: yield from _finite_numbers(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


def _offline_params(nb, tmp_path) -> dict:
    "What a notebook needs beyond the smoke preset on a machine without internet: the pretrained tutorial gets a file."
    if nb.stem != "13_tutorial.pretrained": return {}
    import torch
    from torchvision.models import resnet18
    torch.manual_seed(0)
    w = tmp_path / "resnet18.pt"
    torch.save(resnet18().state_dict(), w)   # random weights: the loop, not the accuracy, is under test
    return {"backbones": ["torchvision:resnet18"], "weights_files": {"torchvision:resnet18": str(w)}, "n_images": 120,
            "train_size": 32, "device": "cpu"}


@pytest.mark.parametrize("nb", tutorial_notebooks(), ids=lambda p: p.stem)
def test_tutorial_smoke_run(nb, tmp_path):
    run_dir = tmp_path / "run"
    params = {"preset": "smoke", "run_dir": str(run_dir), **_offline_params(nb, tmp_path)}
    pm.execute_notebook(str(nb), str(tmp_path / nb.name), parameters=params, kernel_name="python3",
                        progress_bar=False, cwd=str(NBS), log_output=False)
    metrics_file = run_dir / "metrics.json"
    assert metrics_file.exists(), f"{nb.name} wrote no metrics.json into run_dir"
    metrics = json.loads(metrics_file.read_text())
    assert metrics, "metrics.json is empty"
    numbers = list(_finite_numbers(metrics))
    assert numbers and all(math.isfinite(v) for v in numbers), "metrics.json holds non-finite numbers"
    accuracies = [v for k, v in _flat_items(metrics) if "acc" in k and isinstance(v, (int, float))]
    assert accuracies, "metrics.json reports no accuracy"
    assert all(0 <= a <= 1 for a in accuracies), f"accuracies outside [0, 1]: {accuracies}"


def _flat_items(obj, prefix=""):
    if isinstance(obj, dict):
        for k, v in obj.items(): yield from _flat_items(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj): yield from _flat_items(v, f"{prefix}[{i}]")
    else:
        yield prefix, obj
