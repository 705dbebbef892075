"""Machine line, interleaved timing, tables, results JSON and the headline line of every benchmark.

Benchmarks are not tests: nothing here asserts a time. Each script prints a short table and, as its LAST line,
`HEADLINE <name>: <text> (goal ...) <MET|MISSED>`."""
from __future__ import annotations
import json, os, platform, statistics, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]               # the repository root
RESULTS = Path(os.environ.get('AS3L_BENCH_RESULTS') or ROOT / 'bench' / 'results')   # git-ignored; the variable: elsewhere
SHARED_DATA = ROOT.parent / 'shared' / 'data'


def machine() -> dict:
    "Cores, load average, torch threads, python: one dict to store beside every result."
    try: load = os.getloadavg()
    except OSError: load = (float('nan'),) * 3
    info = {'when': time.strftime('%Y-%m-%d %H:%M:%S %Z'), 'cpus': os.cpu_count(),
            'loadavg': [round(v, 2) for v in load], 'python': platform.python_version(), 'platform': platform.platform()}
    try:
        import torch
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads(), cuda=torch.cuda.is_available())
    except ImportError: pass
    return info


def machine_line() -> str:
    m = machine()
    return (f"# {m['when']} | {m['cpus']} cpus | load {m['loadavg']} | torch {m.get('torch', '-')} "
            f"threads {m.get('torch_threads', '-')} | cuda {m.get('cuda', False)}")


def timeit(fn, repeat:int=1) -> float:
    "Wall seconds of `repeat` calls of fn(), divided by repeat."
    t = time.perf_counter()
    for _ in range(repeat): fn()
    return (time.perf_counter() - t) / repeat


def interleaved(fns:dict, rounds:int=3, warmup:bool=True) -> dict:
    "Time each fn in `fns` once per round, alternating A,B,A,B...; returns {name: [seconds per round]}."
    if warmup:
        for f in fns.values(): f()
    out = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items(): out[k].append(timeit(f))
    return out


def med(v): return statistics.median(v)


def paired_ratio(times:dict, num:str, den:str) -> float:
    "Median of the per-round ratios num/den (robust to load changes between rounds)."
    return med([a / b for a, b in zip(times[num], times[den])])


def table(rows:list[dict], cols:list[str]|None=None) -> str:
    "A small fixed-width text table."
    if not rows: return '(no rows)'
    cols = cols or list(rows[0])
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)
    w = {c: max(len(c), *(len(fmt(r.get(c, ''))) for r in rows)) for c in cols}
    lines = ['  '.join(c.ljust(w[c]) for c in cols), '  '.join('-' * w[c] for c in cols)]
    lines += ['  '.join(fmt(r.get(c, '')).ljust(w[c]) for c in cols) for r in rows]
    return '\n'.join(lines)


def save_result(name:str, obj:dict) -> Path:
    "Write bench/results/<name>.json (with the machine dict) and return the path."
    RESULTS.mkdir(parents=True, exist_ok=True)
    p = RESULTS / f"{name}.json"
    p.write_text(json.dumps({'machine': machine(), **obj}, indent=1, default=float))
    return p


def headline(name:str, text:str, met:bool|None) -> str:
    "The last line every benchmark prints."
    tag = '' if met is None else (' MET' if met else ' MISSED')
    line = f"HEADLINE {name}: {text}{tag}"
    print(line, flush=True)
    return line


def workdir(name:str) -> Path:
    "A fresh temporary folder for one benchmark's run folders."
    return Path(tempfile.mkdtemp(prefix=f"as3l_bench_{name}_"))
