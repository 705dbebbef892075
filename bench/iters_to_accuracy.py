"""Benchmark 2: iterations to accuracy. How many SSL iterations AS3L needs to reach the FINAL accuracy of FlexMatch
from scratch (same data, labels budget, iterations, seeds), read from the eval history (EMA model every
iterations/20 steps); ratio = that step / the baseline's iterations, per seed, then the mean.

Goal: ratio <= 1/3.

By default it reruns the runs of benchmark 1 on digits (3 seeds); `--reuse` reads bench/results/label_efficiency.json
instead when benchmark 1 ran last (same runs, no recompute). A seed where AS3L never reaches the baseline's final
accuracy counts as ratio = inf (printed, and the goal is missed).

    .venv/bin/python bench/iters_to_accuracy.py [--quick] [--reuse] [--datasets digits]
"""
from __future__ import annotations
import argparse, json, math, shutil, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.report import RESULTS, headline, machine_line, save_result, table, workdir  # noqa: E402

GOAL = 1 / 3


def steps_to_reach(history, target:float) -> int|None:
    "First eval step whose accuracy is >= target (None: never)."
    for step, acc in history:
        if acc >= target - 1e-9: return int(step)
    return None


def ratios(rows:list[dict]) -> list[dict]:
    "One row per (dataset, seed): the baseline's final accuracy and the fraction of iterations AS3L needs for it."
    out = []
    for r in rows:
        if r['method'] != 'as3l': continue
        b = next((x for x in rows if x['method'] == 'flexmatch_scratch' and x['seed'] == r['seed'] and x['dataset'] == r['dataset']), None)
        if b is None: continue
        step = steps_to_reach(r['history'], b['last_acc'])
        out.append({'dataset': r['dataset'], 'seed': r['seed'], 'scratch_final': b['last_acc'], 'as3l_final': r['last_acc'],
                    'as3l_first_eval': r['history'][0][1] if r['history'] else float('nan'),
                    'as3l_steps': step if step is not None else 'never', 'iterations': b['iterations'],
                    'ratio': step / b['iterations'] if step is not None else math.inf})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--quick', action='store_true', help="benchmark 1's quick digits runs")
    ap.add_argument('--reuse', action='store_true', help='read bench/results/label_efficiency.json instead of rerunning')
    ap.add_argument('--datasets', default='digits')
    ap.add_argument('--seeds', default='0,1,2')
    a = ap.parse_args(argv)
    print(machine_line())
    src = RESULTS / 'label_efficiency.json'
    if a.reuse and src.exists():
        rows = json.loads(src.read_text())['rows']
        print(f"# reusing the runs of benchmark 1 ({src.name}, {len(rows)} runs)")
    else:
        from benchlib.runs import efficiency_runs
        root = workdir('iters_to_accuracy')
        rows = []
        for ds in a.datasets.split(','):
            rows += efficiency_runs(ds, [int(s) for s in a.seeds.split(',')], a.quick, root)
        shutil.rmtree(root, ignore_errors=True)
    rr = ratios(rows)
    print(table(rr))
    finite = [r['ratio'] for r in rr]
    mean = sum(finite) / len(finite) if finite else math.nan
    save_result('iters_to_accuracy', {'ratios': rr, 'mean_ratio': mean, 'quick': a.quick, 'reused': bool(a.reuse and src.exists()),
                                      'histories': [{k: r[k] for k in ('dataset', 'method', 'seed', 'history')} for r in rows]})
    never = sum(r['ratio'] == math.inf for r in rr)
    txt = (f"{mean:.3f} of the iterations" if math.isfinite(mean) else f"not reached in {never}/{len(rr)} seeds")
    headline('iters_to_accuracy', f"AS3L reaches FlexMatch-from-scratch's final accuracy after {txt} "
             f"(mean over {len(rr)} seeds; goal <= {GOAL:.3f})", bool(rr) and mean <= GOAL)


if __name__ == '__main__':
    main()
