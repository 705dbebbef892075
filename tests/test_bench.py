"""Import check of the benchmarks in bench/: each script loads as a module without running anything heavy.

Benchmarks are not tests (no time is asserted anywhere); this only keeps them importable and runnable-looking."""
import importlib.util, sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / 'bench'
SCRIPTS = sorted(p for p in BENCH.glob('*.py') if not p.name.startswith('_'))


def _load(path:Path):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally: sys.path.remove(str(BENCH))


def _run_quick(name:str):
    "Load bench/<name>.py and run its main(['--quick']) with bench/ importable (its own helpers); returns the module."
    mod = _load(BENCH / f'{name}.py')
    sys.path.insert(0, str(BENCH))
    try: mod.main(['--quick'])
    finally: sys.path.remove(str(BENCH))
    return mod


def test_benchmarks_exist():
    assert {'lesson_margins.py', 'stages23_scale.py'} <= {p.name for p in SCRIPTS} and len(SCRIPTS) >= 8, [p.name for p in SCRIPTS]
    assert (BENCH / 'README.md').exists()


@pytest.mark.parametrize('path', SCRIPTS, ids=lambda p: p.stem)
def test_bench_imports(path):
    mod = _load(path)
    assert callable(getattr(mod, 'main', None)), f"{path.name} needs a main() guarded by __name__ == '__main__'"
    assert mod.__doc__ and 'goal' in mod.__doc__.lower(), f"{path.name}: the docstring states the goal"
    src = path.read_text()
    assert "if __name__ == '__main__':" in src and '--quick' in src


def test_util_helpers():
    u = _load(BENCH / '_util.py')
    t = u.interleaved({'a': lambda: None, 'b': lambda: None}, rounds=2)
    assert set(t) == {'a', 'b'} and all(len(v) == 2 for v in t.values())
    assert 'x' in u.table([{'x': 1.5, 'y': 'z'}])


def test_simsiam_curve_quick(capsys):
    "Benchmark 10 at --quick: the pixel row, one row per measured epoch (resumed runs), and a verdict line."
    mod = _run_quick('simsiam_curve')
    out = capsys.readouterr().out
    assert '# digits epoch 1:' in out and '# digits epoch 2:' in out
    assert out.strip().splitlines()[-1].startswith('HEADLINE simsiam_curve: digits ')
    v, ok = mod.verdict([dict(dataset='d', purity10=0.5, knn_1shot=0.5), dict(minutes=3.0, purity10=0.6, knn_1shot=0.6)])
    assert ok and 'beats pixels at 3.0 min' in v
    v, ok = mod.verdict([dict(dataset='d', purity10=0.5, knn_1shot=0.5), dict(minutes=12.0, purity10=0.6, knn_1shot=0.4)])
    assert not ok and 'below pixels after 12.0 min' in v


def test_backbone_cost_quick(capsys):
    "Benchmark 12 at --quick: one row with a positive rate, and the headline line last."
    _run_quick('backbone_cost')
    out = capsys.readouterr().out
    assert '# torchvision:resnet18: ' in out and 'images/s' in out
    assert out.strip().splitlines()[-1].startswith('HEADLINE backbone_cost: torchvision:resnet18 ')


def test_converged_flexmatch_quick(capsys):
    "Benchmark 13 at --quick: notebook 21 at smoke scale through papermill, one table row, the headline line last."
    mod = _run_quick('converged_flexmatch')
    out = capsys.readouterr().out
    assert 'speed-up s' in out and '\n1             0 ' in out
    last = out.strip().splitlines()[-1]
    assert last.startswith('HEADLINE converged_flexmatch: digits (smoke) 1 label/class: ') and last.endswith(('MET', 'MISSED'))
    run = dict(labels_per_class=1, n_seeds=1, flex_converged=1, flex_final_acc=0.3, as3l_final_acc=0.6, seeds_reaching=1,
               speedup_time=3.5, speedup_iters=2.0, as3l_reach_s=10.0, flex_plateau_s=35.0)
    text, ok = mod.verdict({'table': [run]}, 'fashion_mnist')
    assert ok and '3.50x in time' in text
    text, ok = mod.verdict({'table': [{**run, 'speedup_time': None, 'seeds_reaching': 0}]}, 'fashion_mnist')
    assert not ok and 'not reached' in text
