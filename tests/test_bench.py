"""Import check of the benchmarks in bench/: each script loads as a module without running anything heavy; the
bench library (bench/benchlib) is the only thing they share, and it runs on digits at smoke scale.

Benchmarks are not tests (no time is asserted anywhere); this only keeps them importable and runnable-looking."""
import ast, importlib, importlib.util, sys
from pathlib import Path

import numpy as np
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


def _lib(name:str):
    "bench/benchlib/<name>.py, imported as the benchmarks import it (bench/ on the path)."
    sys.path.insert(0, str(BENCH))
    try: return importlib.import_module(f'benchlib.{name}')
    finally: sys.path.remove(str(BENCH))


def _imports(path:Path) -> list[tuple[str, list[str]]]:
    "(module, imported names) of every import statement in a file, top level or inside functions."
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import): out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0: out.append((node.module, [a.name for a in node.names]))
    return out


LIB = sorted((BENCH / 'benchlib').glob('*.py'))


@pytest.mark.parametrize('path', SCRIPTS + LIB, ids=lambda p: p.stem if p.parent == BENCH else f'benchlib.{p.stem}')
def test_no_benchmark_imports_another_or_a_private_as3l_name(path):
    "Benchmarks share only bench/benchlib; nobody imports `as3l.x._private` or patches `train_ssl`."
    others = {p.stem for p in BENCH.glob('*.py')} | {'_util', '_runs'}
    for mod, names in _imports(path):
        assert mod.split('.')[0] not in others, f"{path.name} imports the benchmark {mod}: move what it needs to benchlib"
        if mod.split('.')[0] == 'as3l':
            assert not any(p.startswith('_') for p in mod.split('.')[1:]), f"{path.name} imports the private module {mod}"
            assert not [n for n in names if n.startswith('_')], f"{path.name} imports private names {names} from {mod}"
    src = path.read_text()
    assert 'train_ssl =' not in src, f"{path.name} patches train_ssl: pass eval_every/log_every to stage_train instead"


def test_report_helpers():
    u = _lib('report')
    t = u.interleaved({'a': lambda: None, 'b': lambda: None}, rounds=2)
    assert set(t) == {'a', 'b'} and all(len(v) == 2 for v in t.values())
    assert 'x' in u.table([{'x': 1.5, 'y': 'z'}])


def test_confidence_estimate():
    "Benchmark 16's label-free estimate: the prior's mass on the predicted class; a temperature that hits a target mean."
    m = _lib('metrics')
    rng = np.random.default_rng(0)
    prob = rng.dirichlet(np.ones(4) * 0.3, 200).astype(np.float32)
    assert m.estimated_accuracy(prob, np.eye(4)[prob.argmax(1)]) == 1.0
    t = m.fit_temperature(prob, 0.5)
    tempered = m.apply_temperature(prob, t)
    assert abs(tempered.max(1).mean() - 0.5) < 1e-3 and (tempered.argmax(1) == prob.argmax(1)).all()
    with pytest.raises(ValueError): m.estimated_accuracy(prob, prob[:, :3])


def test_centroid_update():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    means, counts = _lib('metrics').centroid_update(x, np.array([0, 0, 1, 1, 1, 2]), 4)
    np.testing.assert_allclose(means[:3], [[1, 2], [6, 7], [10, 11]])
    assert counts.tolist() == [2, 3, 1, 0] and (means[3] == 0).all()


def test_benchlib_runs_on_digits(tmp_path):
    "The shared runs at smoke scale on 300 digits: stage 1 once, stages 2-4 on its features, FlexMatch from scratch."
    D, R, M = _lib('data'), _lib('runs'), _lib('metrics')
    train, test = D.load('digits')
    train, test = train.subset(np.arange(300)), test.subset(np.arange(90))
    cfg = R.config('smoke', 0, 10, tmp_path, ssl={'iterations': 4, 'T': 2})
    plan = R.plan_for(cfg, train)
    assert plan.train.model == 'cnn_small' and plan.ssl.iterations == 4   # 8 px digits: by image size
    f_self, encoder, _ = R.features(cfg, train, tmp_path / 'f')
    assert f_self.shape[0] == 300 and encoder is not None
    r = R.as3l_from_features(cfg, train, test, f_self, encoder, tmp_path / 'as3l', n_evals=2)
    assert r['iterations'] == 4 and [s for s, _ in r['history']] == [2, 4] and 0 <= r['unlabelled_acc'] <= 100
    assert r['budget'] == 10 and r['prior_acc'] is not None
    b = R.flexmatch_scratch(cfg, train, test, n_evals=2)
    assert b['method'] == 'flexmatch_scratch' and len(b['history']) == 2
    idx, prior = R.selection_and_prior(cfg.replace(strategy='kmedoids'), train, f_self, tmp_path / 'sel')
    assert len(idx) == 10 and prior.shape == (300, 10)
    assert 0 <= M.prior_metrics(prior, train.y.numpy(), idx)['prior_acc'] <= 1
    row = M.feature_row('f', f_self, f_self, train.y.numpy(), train.y.numpy(), 10)
    assert set(row) == {'features', 'purity10', 'knn_1shot', 'nmi'}


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
