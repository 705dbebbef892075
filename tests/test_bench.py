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
