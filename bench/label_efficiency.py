"""Benchmark 1: label efficiency. AS3L (SimSiam init, proposed selection, cluster prior, prior-guided FlexMatch; the
as3l.pipeline stages) against FlexMatch from scratch (random selection, random init, no prior), same SSLConfig and
iterations, 1 label per class, 3 seeds; (a) digits, (b) the CIFAR-10 subset ../shared/data/cifar10_10k.npz when present.

Goal: AS3L mean accuracy >= FlexMatch-from-scratch mean accuracy + 20 points.

CPU scale (documented in bench/README.md): digits with the 'cpu' preset itself (cnn_small, SimSiam 3,000 steps at
batch 64, Eq. 1 capped at 40 steps, 400 SSL iterations); CIFAR subset with 'cnn', a few SimSiam epochs (overriding the
preset's step budget) and a short SSL schedule (--cifar-* options) - far below the paper's 1M iterations, so absolute
accuracies are low and the gap is what is measured.

    .venv/bin/python bench/label_efficiency.py [--quick] [--datasets digits,cifar10_10k] [--seeds 0,1,2]
"""
from __future__ import annotations
import argparse, shutil, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.report import headline, machine_line, save_result, table, workdir  # noqa: E402

GOAL_PTS = 20.0


def summarise(rows:list[dict]) -> list[dict]:
    from benchlib.metrics import mean_std
    out = []
    for ds in dict.fromkeys(r['dataset'] for r in rows):
        a = [r for r in rows if r['dataset'] == ds and r['method'] == 'as3l']
        b = [r for r in rows if r['dataset'] == ds and r['method'] == 'flexmatch_scratch']
        (am, asd), (bm, bsd) = mean_std([r['last_acc'] for r in a]), mean_std([r['last_acc'] for r in b])
        (abm, _), (bbm, _) = mean_std([r['best_acc'] for r in a]), mean_std([r['best_acc'] for r in b])
        out.append({'dataset': ds, 'seeds': len(a), 'as3l_acc': f"{am:.1f} +- {asd:.1f}", 'scratch_acc': f"{bm:.1f} +- {bsd:.1f}",
                    'diff_pts': am - bm, 'as3l_best': abm, 'scratch_best': bbm,
                    'as3l_prior_acc': mean_std([r['prior_acc'] for r in a])[0],
                    'as3l_coverage': mean_std([r['coverage'] for r in a])[0],
                    'scratch_coverage': mean_std([r['coverage'] for r in b])[0]})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--quick', action='store_true', help='digits only, shorter SimSiam/SSL, seeds 0,1,2')
    ap.add_argument('--datasets', default=None, help='comma-separated: digits, cifar10_10k')
    ap.add_argument('--seeds', default='0,1,2')
    ap.add_argument('--cifar-seeds', default='0', help='seeds on the CIFAR subset (default 0 only: 3 seeds take ~25 min here)')
    ap.add_argument('--cifar-simsiam-epochs', type=int, default=3)
    ap.add_argument('--cifar-iterations', type=int, default=300)
    ap.add_argument('--keep', action='store_true', help='keep the run folders (printed)')
    a = ap.parse_args(argv)
    from benchlib.runs import efficiency_runs, efficiency_scale
    print(machine_line())
    datasets = (a.datasets or ('digits' if a.quick else 'digits,cifar10_10k')).split(',')
    root = workdir('label_efficiency')
    rows = []
    t0 = time.perf_counter()
    for ds in datasets:
        seeds = [int(s) for s in (a.cifar_seeds if ds != 'digits' else a.seeds).split(',')]
        rows += efficiency_runs(ds, seeds, a.quick, root, a.cifar_simsiam_epochs, a.cifar_iterations)
    summ = summarise(rows)
    print(table([{k: v for k, v in r.items() if k != 'history'} for r in rows],
                ['dataset', 'method', 'seed', 'coverage', 'prior_acc', 'best_acc', 'last_acc', 'iterations', 'train_s']))
    print(table(summ))
    save_result('label_efficiency', {'rows': rows, 'summary': summ, 'quick': a.quick, 'seconds': time.perf_counter() - t0,
                                     'scales': {ds: efficiency_scale(ds, a.quick, a.cifar_simsiam_epochs, a.cifar_iterations) for ds in datasets}})
    if a.keep: print(f"# run folders: {root}")
    else: shutil.rmtree(root, ignore_errors=True)
    if not summ:
        headline('label_efficiency', 'no data set ran', None); return
    worst = min(s['diff_pts'] for s in summ)
    txt = '; '.join(f"{s['dataset']} {s['as3l_acc']} vs {s['scratch_acc']} = {s['diff_pts']:+.1f} pts" for s in summ)
    headline('label_efficiency', f"AS3L vs FlexMatch from scratch, final acc (%), 1 label/class: {txt} (goal >= +{GOAL_PTS:g})",
             worst >= GOAL_PTS)


if __name__ == '__main__':
    main()
