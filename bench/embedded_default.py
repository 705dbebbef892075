"""Benchmark 7: the embedded default. Wall time of `as3l run --dataset digits` (the CLI's default preset, in a fresh
process, fresh run folder) and of the whole test suite (`.venv/bin/python -m pytest`), with the load average before
and after (the machine may be shared: note it beside the numbers).

Goals: `as3l run --dataset digits` < 2 min; test suite < 15 min.

    .venv/bin/python bench/embedded_default.py [--quick] [--no-pytest]
"""
from __future__ import annotations
import argparse, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.report import ROOT, headline, machine_line, save_result, table  # noqa: E402

GOAL_RUN_S, GOAL_SUITE_S = 120.0, 900.0


def _load(): return [round(v, 2) for v in os.getloadavg()]


def timed(cmd:list[str], cwd:Path, timeout:float, env=None) -> dict:
    "Run cmd, return wall seconds, return code, load before/after and the last output lines."
    l0, t = _load(), time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
        rc, out = p.returncode, (p.stdout + p.stderr)
    except subprocess.TimeoutExpired as e:
        rc, out = 'timeout', ((e.stdout or b'').decode(errors='replace') if isinstance(e.stdout, bytes) else (e.stdout or ''))
    return {'cmd': ' '.join(cmd), 'wall_s': time.perf_counter() - t, 'rc': rc, 'load_before': l0, 'load_after': _load(),
            'tail': out.strip().splitlines()[-3:]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--quick', action='store_true', help='only `as3l run --dataset digits` (skip the test suite)')
    ap.add_argument('--no-pytest', action='store_true', help='skip the test suite')
    ap.add_argument('--pytest-args', default='-q', help='extra pytest arguments')
    a = ap.parse_args(argv)
    print(machine_line())
    bindir = Path(sys.executable).parent
    cli = bindir / 'as3l'
    tmp = Path(tempfile.mkdtemp(prefix='as3l_bench_cli_'))
    env = {**os.environ}; env.pop('CI', None)
    cmd = ([str(cli)] if cli.exists() else [sys.executable, '-m', 'as3l.cli']) + ['run', '--dataset', 'digits', '--run-dir', str(tmp / 'digits')]
    rows = [dict(what='as3l run --dataset digits', **timed(cmd, tmp, 1800, env))]
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"# as3l run: {rows[0]['wall_s']:.1f} s, rc {rows[0]['rc']}; last lines: {rows[0]['tail']}", flush=True)
    suite = None
    if not (a.quick or a.no_pytest):
        env2 = {**os.environ}; env2.pop('CI', None)
        pargs = [x for x in a.pytest_args.split() if x]
        suite = dict(what='python -m pytest', **timed([sys.executable, '-m', 'pytest', *pargs], ROOT, 3600, env2))
        m = re.search(r'(\d+) passed', ' '.join(suite['tail'])); suite['passed'] = int(m.group(1)) if m else None
        m = re.search(r'(\d+) failed', ' '.join(suite['tail'])); suite['failed'] = int(m.group(1)) if m else 0
        rows.append(suite)
        print(f"# pytest: {suite['wall_s']:.0f} s, rc {suite['rc']}; {suite['tail'][-1:]}", flush=True)
    print(table(rows, ['what', 'wall_s', 'rc', 'load_before', 'load_after']))
    save_result('embedded_default', {'rows': rows, 'quick': a.quick})
    run_s = rows[0]['wall_s']
    txt = f"`as3l run --dataset digits` {run_s:.0f} s (goal < {GOAL_RUN_S:.0f} s, rc {rows[0]['rc']})"
    met = run_s < GOAL_RUN_S and rows[0]['rc'] == 0
    if suite:
        txt += f"; pytest {suite['wall_s']:.0f} s (goal < {GOAL_SUITE_S:.0f} s, rc {suite['rc']})"
        met = met and suite['wall_s'] < GOAL_SUITE_S
    else: txt += '; test suite not run (--quick/--no-pytest)'
    headline('embedded_default', txt + f"; load {_load()}", met)


if __name__ == '__main__':
    main()
