"""Benchmark 15: is the prior's confidence its accuracy? Label-free calibrations of the stage-3 prior.

On the `cpu` preset's SimSiam features (its steps for the data set, seed 0; measured at 3,000, the preset then; read
from bench 14's `--cache` when there, else trained here) of Fashion-MNIST 10k, the CIFAR-10 subset and digits, for
1 and 4 labels/class and seeds 0, 1, 2, the pipeline's stages 2-3 (Eq. 1 with K = budget, multi-clustering
selection) and then, on the same f_fine and labels:

- `cluster (paper)`: `cluster_prior` as stage 4 consumes it (seedless runs give no vote);
- `cluster, seedless runs vote uniform`: `cluster_prior(unreached='uniform')`;
- `LLGC`: `llgc_prior`, the baseline;
- `calibrated` (`as3l.propagate.calibrated_prior`): the mean of the two above at 1 label/class, LLGC's scores from
  2 labels/class on;
- `held-out mix`: the votes' weight (0, 0.25, ..., 1; the rest LLGC) with the lowest log-loss on labelled samples
  held out in class-stratified folds (4/class only): the alternative that was measured and not kept.

Each row: accuracy of the argmax, mean confidence and ECE (15 bins) on the unlabelled images; labels are used only
to measure. Goal (issue "Numbers a user reads must be true"): on Fashion-MNIST and the CIFAR subset, 1 and 4
labels/class, the calibrated prior's ECE <= LLGC's and its accuracy >= the paper prior's (means over the seeds).

    .venv/bin/python bench/prior_calibration.py [--datasets fashion_mnist,cifar10_10k,digits] [--seeds 0,1,2]
        [--per-class 1,4] [--cache DIR] [--quick]
"""
from __future__ import annotations
import argparse, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.report import headline, machine_line, save_result, table  # noqa: E402


def priors(f_fine, idx, y, n_cls, ks, seed) -> dict:
    from as3l.propagate import calibrated_prior, cluster_prior, llgc_prior
    return {'cluster (paper)': cluster_prior(f_fine, idx, y[idx], n_cls, ks=ks, seed=seed),
            'cluster, seedless runs vote uniform': cluster_prior(f_fine, idx, y[idx], n_cls, ks=ks, seed=seed, unreached='uniform'),
            'LLGC': llgc_prior(f_fine, idx, y[idx], n_cls),
            'calibrated': calibrated_prior(f_fine, idx, y[idx], n_cls, ks=ks, seed=seed)}


def held_out_mix(f_fine, idx, y, n_cls, ks, seed, grid=(0.0, 0.25, 0.5, 0.75, 1.0), n_folds=4):
    "The votes' weight with the lowest log-loss on labelled samples held out by class-stratified folds (None at 1/class)."
    import numpy as np
    from as3l.propagate import calibrated_prior
    if np.bincount(y).min() < 2: return None
    rng, fold = np.random.default_rng(seed), np.empty(len(y), np.int64)
    for c in np.unique(y):
        w = rng.permutation(np.flatnonzero(y == c)); fold[w] = np.arange(len(w)) % n_folds
    parts = []
    for f in range(n_folds):
        keep, held = fold != f, fold == f
        pv = calibrated_prior(f_fine, idx[keep], y[keep], n_cls, ks=ks, seed=seed, mix=1.0)
        pl = calibrated_prior(f_fine, idx[keep], y[keep], n_cls, ks=ks, seed=seed, mix=0.0)
        parts.append((pv[idx[held], y[held]], pl[idx[held], y[held]]))
    v, l = (np.concatenate(a) for a in zip(*parts))
    return grid[int(np.argmin([-np.log(np.clip(w * v + (1 - w) * l, 1e-6, 1)).mean() for w in grid]))]


def run_dataset(name, a, cache) -> list[dict]:
    import numpy as np
    from as3l.active import finetune_features, select_multicluster
    from as3l.propagate import calibrated_prior, expected_calibration_error, unlabeled_mask
    from benchlib.runs import ladder_train, plan_for, simsiam_features
    got = ladder_train(name)
    if got is None: return []
    train, y, n_cls, cfg = got
    steps = plan_for(cfg, train).simsiam.total_steps(len(train))
    path = None if cache is None else cache / name / f'SimSiam_{steps}.npy'
    if path is not None and path.exists(): f_self = np.load(path)
    else:
        f_self = simsiam_features(cfg, train, 30 if a.quick else steps)
        if path is not None and not a.quick: path.parent.mkdir(parents=True, exist_ok=True); np.save(path, f_self)
    rows = []
    for pc in a.per_class:
        for seed in a.seeds:
            budget = pc * n_cls
            f_fine = finetune_features(f_self, budget, cfg.n_clusterings, cfg.finetune_epochs, cfg.finetune_steps, seed=seed, device='cpu')
            idx = select_multicluster(f_fine, budget, seed, cfg.n_clusterings)
            um = unlabeled_mask(len(y), idx)
            got = priors(f_fine, idx, y, n_cls, tuple(cfg.prior_ks), seed)
            w = held_out_mix(f_fine, idx, y[idx], n_cls, tuple(cfg.prior_ks), seed)
            if w is not None:
                got['held-out mix'] = calibrated_prior(f_fine, idx, y[idx], n_cls, ks=tuple(cfg.prior_ks), seed=seed, mix=w)
            for kind, p in got.items():
                rows.append({'dataset': name, 'per_class': pc, 'seed': seed, 'prior': kind,
                             'acc': float((p[um].argmax(1) == y[um]).mean()), 'conf': float(p[um].max(1).mean()),
                             'ece': expected_calibration_error(p[um], y[um])})
        print(f"# {name} {pc}/class done", flush=True)
    return rows


def summary(rows) -> list[dict]:
    "Means over the seeds, one row per (data set, labels/class, prior)."
    import numpy as np
    keys = sorted({(r['dataset'], r['per_class'], r['prior']) for r in rows}, key=lambda k: (k[0], k[1]))
    out = []
    for d, pc, kind in keys:
        rs = [r for r in rows if (r['dataset'], r['per_class'], r['prior']) == (d, pc, kind)]
        out.append({'dataset': d, 'labels/class': pc, 'prior': kind, 'seeds': len(rs),
                    **{m: round(100 * float(np.mean([r[m] for r in rs])), 1) for m in ('acc', 'conf', 'ece')}})
    return out


def goal(summ) -> tuple[str, bool]:
    "Per (data set, labels/class) of Fashion-MNIST and CIFAR: calibrated ECE <= LLGC's and accuracy >= the paper prior's."
    parts, met = [], True
    for d in ('fashion_mnist', 'cifar10_10k'):
        for pc in sorted({r['labels/class'] for r in summ}):
            got = {r['prior']: r for r in summ if r['dataset'] == d and r['labels/class'] == pc}
            if 'calibrated' not in got: continue
            c, l, p = got['calibrated'], got['LLGC'], got['cluster (paper)']
            ok = c['ece'] <= l['ece'] and c['acc'] >= p['acc']
            met &= ok
            parts.append(f"{d} {pc}/class ECE {c['ece']:.1f} vs LLGC {l['ece']:.1f}, acc {c['acc']:.1f} vs {p['acc']:.1f}")
    return '; '.join(parts) or 'no Fashion-MNIST / CIFAR data', met and bool(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--datasets', default='fashion_mnist,cifar10_10k,digits')
    ap.add_argument('--seeds', default='0,1,2')
    ap.add_argument('--per-class', default='1,4')
    ap.add_argument('--cache', default='', help="bench 14's feature folder (SimSiam_<steps>.npy is read from it)")
    ap.add_argument('--quick', action='store_true', help='digits, seed 0, 1/class, SimSiam 30 steps (plumbing only)')
    a = ap.parse_args(argv)
    if a.quick: a.datasets, a.seeds, a.per_class = 'digits', '0', '1'
    a.seeds = [int(s) for s in a.seeds.split(',')]
    a.per_class = [int(s) for s in a.per_class.split(',')]
    cache = Path(a.cache) if a.cache else None
    print(machine_line(), flush=True)
    t, rows = time.perf_counter(), []
    for name in a.datasets.split(','): rows += run_dataset(name, a, cache)
    summ = summary(rows)
    print(table(summ))
    save_result('prior_calibration' + ('_quick' if a.quick else ''), {'args': vars(a), 'seconds': time.perf_counter() - t,
                                                                        'rows': rows, 'summary': summ})
    text, met = goal(summ)
    headline('prior_calibration', f"{text} (goal: calibrated ECE <= LLGC's, accuracy >= the paper prior's)", met)


if __name__ == '__main__':
    main()
