"""Benchmark 13: AS3L's whole cost against a converged standard FlexMatch (the paper's Table 2 protocol, Sec. 4.2.1).

Runs `nbs/21_experiments.table2.ipynb` with papermill (the notebook holds all the logic: arms, plateau rule, metric)
and prints its table from `metrics.json`. Standard FlexMatch = random labels, no prior, from scratch, trained for
`--flex-factor` (>= 10) x AS3L's SSL iterations of the `cpu` preset (read at run time); "converged" = its EMA test
accuracy gains < 1 point over the last quarter of that schedule. AS3L = the pipeline's stages (SimSiam, proposed
selection, cluster prior, early-stop prior-guided FlexMatch), every stage's seconds counted. The speed-up is
FlexMatch's seconds to its plateau (first evaluation within 1 point of its final accuracy) / AS3L's seconds to first
reach that accuracy; "not reached" when AS3L's schedule ends below it.

    .venv/bin/python bench/converged_flexmatch.py [--quick] [--dataset fashion_mnist] [--seeds 0] [--labels-per-class 1]
        [--flex-factor 10] [--threads 1] [--run-dir nbs/runs/table2]

Defaults: Fashion-MNIST 10k (seeded 10,000-image training subset, 2,000 test images drawn with seed 0), 1 label/class,
seed 0, one torch thread. Finished runs in `--run-dir` are read back, not retrained (delete it to re-measure).
`--quick`: the smoke preset on digits in a fresh folder (seconds; checks the plumbing, says nothing about the goal).

Goal (issue "Stage 4 must earn its minutes"): speed-up >= 3x in time on Fashion-MNIST 10k at 1 label/class.
"""
from __future__ import annotations
import argparse, json, os, shutil, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.report import RESULTS, ROOT, headline, machine_line, save_result, table  # noqa: E402

NB = ROOT / 'nbs' / '21_experiments.table2.ipynb'
GOAL = 3.0


def run_notebook(params:dict, out:Path) -> float:
    "Execute notebook 21 with `params` (cwd nbs/, like the tests); returns its wall seconds."
    import papermill as pm
    t = time.perf_counter()
    pm.execute_notebook(str(NB), str(out), parameters=params, kernel_name='python3', progress_bar=False,
                        cwd=str(NB.parent), log_output=False)
    return time.perf_counter() - t


def rows_of(book:dict) -> list[dict]:
    "The printed rows: one per (labels/class, seed) run of the notebook's table."
    fmt = lambda v, f: 'not reached' if v is None else format(v, f)
    return [{'labels/class': r['labels_per_class'], 'seed': r['seed'],
             'flex final %': round(100 * r['flex_final_acc'], 1), 'gain last 1/4': round(100 * r['flex_gain_last_quarter'], 1),
             'converged': 'yes' if r['flex_converged'] else 'NO', 'flex s to plateau': round(r['flex_plateau_s'], 1),
             'flex s full': round(r['flex_total_s'], 1), 'as3l final %': round(100 * r['as3l_final_acc'], 1),
             'as3l s (1/2-3/ssl)': f"{r['as3l_stage1_s']:.0f}/{r['as3l_stage23_s']:.0f}/{r['as3l_ssl_iters'] * r['as3l_sec_per_iter']:.0f}",
             'as3l s to flex acc': fmt(r['as3l_reach_s'], '.1f'), 'speed-up s': fmt(r['speedup_time'], '.2f'),
             'speed-up it': fmt(r['speedup_iters'], '.2f')} for r in book['runs']]


def verdict(book:dict, dataset:str) -> tuple[str, bool]:
    "The headline text and whether the goal is met: the 1 label/class speed-up in time (mean over the seeds run)."
    one = next((r for r in book['table'] if r['labels_per_class'] == 1), None)
    if one is None: return f"{dataset}: no 1 label/class run", False
    conv = f"FlexMatch converged {one['flex_converged']}/{one['n_seeds']}"
    if one['speedup_time'] is None:
        return (f"{dataset} 1 label/class: not reached (AS3L ends at {100 * one['as3l_final_acc']:.1f} % vs standard "
                f"FlexMatch's plateau {100 * one['flex_final_acc']:.1f} %; {conv})"), False
    return (f"{dataset} 1 label/class: {one['speedup_time']:.2f}x in time, {one['speedup_iters']:.2f}x in iterations "
            f"(AS3L {one['as3l_reach_s']:.0f} s vs FlexMatch {one['flex_plateau_s']:.0f} s to {100 * one['flex_final_acc']:.1f} %; "
            f"{conv}; seeds reaching {one['seeds_reaching']}/{one['n_seeds']})"), one['speedup_time'] >= GOAL


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--dataset', default='fashion_mnist')
    ap.add_argument('--seeds', default='0')
    ap.add_argument('--labels-per-class', default='1')
    ap.add_argument('--flex-factor', type=int, default=10, help="standard FlexMatch = this x AS3L's SSL iterations (>= 10)")
    ap.add_argument('--n-evals', type=int, default=40, help='test evaluations per training run')
    ap.add_argument('--threads', type=int, default=1, help='torch threads of the notebook kernel (OMP_NUM_THREADS)')
    ap.add_argument('--run-dir', default=str(ROOT / 'nbs' / 'runs' / 'table2'), help='finished runs here are read back')
    ap.add_argument('--quick', action='store_true', help='smoke preset on digits, fresh folder (plumbing only)')
    a = ap.parse_args(argv)
    params = {'preset': 'smoke' if a.quick else 'cpu', 'dataset': 'digits' if a.quick else a.dataset,
              'seeds': [int(s) for s in a.seeds.split(',')], 'labels_per_class': [int(s) for s in a.labels_per_class.split(',')],
              'flex_factor': a.flex_factor, 'n_evals': a.n_evals, 'run_dir': a.run_dir}
    if a.quick:
        params['run_dir'] = str(RESULTS / 'converged_flexmatch_quick')
        shutil.rmtree(params['run_dir'], ignore_errors=True)
    os.environ['OMP_NUM_THREADS'] = str(a.threads)   # the kernel inherits it: torch starts with this many threads
    print(machine_line())
    print(f"# notebook {NB.name} with {json.dumps(params)}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"converged_flexmatch_{params['dataset']}{'_quick' if a.quick else ''}.ipynb"
    secs = run_notebook(params, out)
    book = json.loads((Path(params['run_dir']) / 'metrics.json').read_text())[params['dataset']]
    print(f"# executed in {secs:.0f} s (runs loop {book['loop_seconds']:.0f} s; load {book['loadavg']}; torch threads "
          f"{book['torch_threads']}); AS3L {book['as3l_ssl_iterations']} SSL iterations, standard FlexMatch "
          f"{book['flex_iterations']} ({book['flex_factor']}x); output notebook {out.relative_to(ROOT)}")
    print(table(rows_of(book)))
    save_result('converged_flexmatch' + ('_quick' if a.quick else ''), dict(args=vars(a), params=params, seconds=secs, book=book))
    text, met = verdict(book, params['dataset'] + (' (smoke)' if a.quick else ''))
    headline('converged_flexmatch', f"{text} (goal >= 3x on Fashion-MNIST 10k at 1 label/class)", met)


if __name__ == '__main__':
    main()
