"""Benchmark 4: stages 2+3 at scale. AS3L's selection (`as3l.active.proposed_selection`: C=6 k-means runs for the
Eq. 1 targets, the linear fine-tune, C=6 k-means runs with K=budget, co-assignment groups, medoids) and propagation
(`as3l.propagate.cluster_prior`: C=6 constrained seeded k-means runs, K=10..60) on 50,000 x 512 random-but-clustered
features, 2 cores, against THE SAME CODE with its k-means engine swapped for scikit-learn (`KMeans` k-means++ for
the unconstrained runs; the seeded runs as the same Lloyd loop with `pairwise_distances_argmin_min` assignments and
`kmeans_plusplus` extra centres). Only the clustering engine differs; fine-tuning, grouping and voting are shared.

Goals: 50k x 512 under 20 s and >= 5x faster than the scikit-learn build; peak memory under 1.5 GB at 200k x 512
(VmHWM of a fresh subprocess per size, which sees faiss's and torch's native allocations) and near-linear time in N.

    .venv/bin/python bench/stages23_scale.py [--quick] [--sizes 10000,50000,200000]
"""
from __future__ import annotations
import argparse, contextlib, json, os, subprocess, sys, time
from pathlib import Path

os.environ.setdefault('CI', '1')   # as3l.core.progress: silent

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.data import BUDGET, CLASSES, D, clustered_features  # noqa: E402
from benchlib.report import headline, machine_line, save_result, table  # noqa: E402

GOAL_S, GOAL_X, GOAL_MB = 20.0, 5.0, 1500
C_RUNS, KS = 6, (10, 20, 30, 40, 50, 60)


# ---------------- scikit-learn clustering engine with as3l's signatures ----------------
def sk_kmeans(x, k, seed=0, n_iter=20, **_):
    "scikit-learn KMeans (k-means++ init, one init, Lloyd, default tol): (centroids, assign) like as3l.cluster.kmeans."
    from sklearn.cluster import KMeans
    km = KMeans(n_clusters=int(k), init='k-means++', n_init=1, max_iter=int(n_iter), random_state=int(seed) % 2**31,
                algorithm='lloyd').fit(x)
    return km.cluster_centers_.astype(np.float32), km.labels_.astype(np.int64)


def sk_seeded_kmeans(x, k, seed_idx, seed_labels, seed=0, n_iter=20, **_):
    "Constrained seeded k-means (Basu 2002) as as3l's, on scikit-learn's assignment and k-means++ routines."
    from sklearn.cluster import kmeans_plusplus
    from sklearn.metrics import pairwise_distances_argmin_min
    from benchlib.metrics import centroid_update
    x = np.ascontiguousarray(x, np.float32); n = len(x)
    idx, lab = np.asarray(seed_idx, np.int64), np.asarray(seed_labels, np.int64)
    classes, lab_c = np.unique(lab, return_inverse=True); nc = len(classes)
    cent = np.zeros((k, x.shape[1]), np.float32)
    cent[:nc] = centroid_update(x[idx], lab_c, nc)[0]
    if k > nc:
        rng = np.random.default_rng(seed)
        rest = np.setdiff1d(np.arange(n), idx)
        m = max(2_000, 100 * k)
        if len(rest) > m: rest = np.sort(rng.choice(rest, m, replace=False))
        cent[nc:] = kmeans_plusplus(x[rest], k - nc, random_state=int(seed) % 2**31)[0]
    cluster_class = np.full(k, -1, np.int64); cluster_class[:nc] = classes
    assign = None
    for _ in range(max(int(n_iter), 1)):
        new, dist = pairwise_distances_argmin_min(x, cent)
        new = new.astype(np.int64); new[idx] = lab_c
        if assign is not None and np.array_equal(new, assign): break
        assign = new
        cent_new, counts = centroid_update(x, assign, k)
        empty = np.flatnonzero(counts == 0)
        if len(empty):
            far = dist.copy(); far[idx] = -1
            cent_new[empty] = x[np.argsort(-far, kind='stable')[:len(empty)]]
        cent = cent_new
    return cent, assign, cluster_class


class _Timer:
    "Wrap as3l's k-means entry points to split the wall time into fine-tune k-means / training / selection / propagation."
    def __init__(self): self.t = {}; self.stage = None
    def add(self, key, dt): self.t[key] = self.t.get(key, 0.0) + dt
    def wrap(self, fn, key_fn):
        def w(*a, **kw):
            t = time.perf_counter()
            try: return fn(*a, **kw)
            finally: self.add(key_fn(), time.perf_counter() - t)
        return w


@contextlib.contextmanager
def engine(which:str, timer:_Timer):
    "Patch as3l.active / as3l.propagate module globals: 'as3l' keeps faiss (timed), 'sklearn' swaps the engine."
    import as3l.active as A, as3l.propagate as P
    saved = (A.kmeans, P.seeded_kmeans, A.finetune_features)
    km, skm = (A.kmeans, P.seeded_kmeans) if which == 'as3l' else (sk_kmeans, sk_seeded_kmeans)
    ft = saved[2]
    def ft_wrapped(*a, **kw):
        timer.stage = 'finetune'
        try: return timer.wrap(ft, lambda: 'finetune_total')(*a, **kw)
        finally: timer.stage = 'select'
    A.kmeans = timer.wrap(km, lambda: f"kmeans_{timer.stage}")
    P.seeded_kmeans = timer.wrap(skm, lambda: 'seeded_kmeans')
    A.finetune_features = ft_wrapped
    try: yield
    finally: A.kmeans, P.seeded_kmeans, A.finetune_features = saved


def stages23(x, y, which:str='as3l', seed:int=0, epochs:int=40) -> dict:
    "Selection (budget 1 label/class) then propagation; returns times by part and sanity metrics."
    import torch
    from as3l.active import class_coverage, proposed_selection
    from as3l.propagate import cluster_prior, prior_accuracy, unlabeled_mask
    timer = _Timer(); timer.stage = 'select'
    with engine(which, timer):
        t0 = time.perf_counter()
        idx, f_fine = proposed_selection(x, BUDGET, seed=seed, n_clusterings=C_RUNS, finetune_epochs=epochs, device='cpu')
        t1 = time.perf_counter()
        prior = cluster_prior(f_fine, idx, y[idx], CLASSES, ks=KS, seed=seed, use_gpu=False)
        t2 = time.perf_counter()
    tt = timer.t
    return {'engine': which, 'n': len(x), 'total_s': t2 - t0, 'select_s': t1 - t0, 'prior_s': t2 - t1,
            'ft_kmeans_s': tt.get('kmeans_finetune', 0.0),
            'ft_train_s': tt.get('finetune_total', 0.0) - tt.get('kmeans_finetune', 0.0),
            'sel_kmeans_s': tt.get('kmeans_select', 0.0), 'seeded_s': tt.get('seeded_kmeans', 0.0),
            'coverage': class_coverage(y, idx), 'prior_acc': prior_accuracy(prior, y, unlabeled_mask(len(y), idx)),
            'torch_threads': torch.get_num_threads()}


def _rss_mb(field:str='VmRSS') -> float:
    "Resident set size (MiB) from /proc (Linux): 'VmRSS' now, 'VmHWM' its peak so far."
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'): return int(line.split()[1]) / 1024
    return float('nan')


def worker(n:int, epochs:int) -> dict:
    "Run in a fresh subprocess: data, stages 2+3 with as3l, peak RSS (ru_maxrss sees faiss/torch native memory)."
    import as3l.active, as3l.propagate, torch  # noqa: F401  (import cost is part of the baseline, not the algorithm)
    rss_import = _rss_mb()
    x, y = clustered_features(n)
    rss_data = _rss_mb()
    r = stages23(x, y, 'as3l', epochs=epochs)
    # VmHWM, not ru_maxrss: Linux carries the parent's peak RSS into ru_maxrss across fork+exec, so a worker started
    # by a parent holding 50k features reported the parent's 1.27 GB at N=10k
    r.update(rss_import_mb=rss_import, rss_data_mb=rss_data, peak_mb=_rss_mb('VmHWM'),
             data_mb=x.nbytes / 2**20)
    r['extra_peak_mb'] = r['peak_mb'] - r['rss_data_mb']
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--quick', action='store_true', help='N=10k for the ratio, sizes 5k/10k/20k (a few minutes)')
    ap.add_argument('--n', type=int, default=None, help='N of the as3l vs sklearn comparison (default 50,000)')
    ap.add_argument('--sizes', default=None, help='comma-separated N of the scaling runs (default 10000,50000,200000)')
    ap.add_argument('--rounds', type=int, default=None, help='interleaved as3l/sklearn rounds (default 2)')
    ap.add_argument('--epochs', type=int, default=40, help='Eq. 1 fine-tune epochs (paper and package default: 40)')
    ap.add_argument('--worker', type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        print('RESULT ' + json.dumps(worker(a.worker, a.epochs)), flush=True); return
    n = a.n or (10_000 if a.quick else 50_000)
    sizes = [int(s) for s in (a.sizes or ('5000,10000,20000' if a.quick else '10000,50000,200000')).split(',')]
    rounds = a.rounds or (1 if a.quick else 2)
    print(machine_line())
    print(f"# features: {CLASSES} Gaussian classes, d={D}, L2-normalised; budget {BUDGET}; C={C_RUNS}; ks={KS}; "
          f"fine-tune {a.epochs} epochs", flush=True)
    # ---- part 1: as3l vs the same code on scikit-learn, interleaved, one process ----
    x, y = clustered_features(n)
    runs = []
    for r in range(rounds):
        for which in ('as3l', 'sklearn'):
            runs.append(stages23(x, y, which, epochs=a.epochs))
            print(f"# round {r}: {which} {runs[-1]['total_s']:.1f} s", flush=True)
    cols = ['engine', 'n', 'total_s', 'select_s', 'prior_s', 'ft_kmeans_s', 'ft_train_s', 'sel_kmeans_s', 'seeded_s', 'coverage', 'prior_acc']
    print(table(runs, cols))
    pairs = [(runs[2 * i], runs[2 * i + 1]) for i in range(rounds)]
    ratio = float(np.median([s['total_s'] / c['total_s'] for c, s in pairs]))
    clus = lambda r: r['ft_kmeans_s'] + r['sel_kmeans_s'] + r['seeded_s']
    ratio_clus = float(np.median([clus(s) / clus(c) for c, s in pairs]))
    t_as3l = float(np.median([c['total_s'] for c, _ in pairs]))
    print(f"# N={n}: as3l {t_as3l:.1f} s; sklearn build / as3l: {ratio:.2f}x end to end, {ratio_clus:.2f}x on the clustering alone "
          f"(fine-tune training is shared code: {np.median([c['ft_train_s'] for c, _ in pairs]):.1f} s)", flush=True)
    # ---- part 2: growth with N, one fresh subprocess per size ----
    scale = []
    for m in sizes:
        out = subprocess.run([sys.executable, __file__, '--worker', str(m), '--epochs', str(a.epochs)],
                             capture_output=True, text=True)
        line = [l for l in out.stdout.splitlines() if l.startswith('RESULT ')]
        if out.returncode or not line:
            print(f"# worker N={m} failed (rc {out.returncode}): {out.stderr.strip().splitlines()[-1:]}"); continue
        scale.append(json.loads(line[0][7:]))
        print(f"# N={m}: {scale[-1]['total_s']:.1f} s, peak {scale[-1]['peak_mb']:.0f} MiB", flush=True)
    cols2 = ['n', 'total_s', 'ft_kmeans_s', 'ft_train_s', 'sel_kmeans_s', 'seeded_s', 'rss_import_mb', 'data_mb', 'peak_mb', 'extra_peak_mb', 'prior_acc']
    print(table(scale, cols2))
    slope = None
    if len(scale) >= 2:
        ln = np.log([s['n'] for s in scale]); lt = np.log([s['total_s'] for s in scale])
        slope = float(np.polyfit(ln, lt, 1)[0])
        print(f"# time ~ N^{slope:.2f} over N={[s['n'] for s in scale]} (1.0 = linear)")
    big = max(scale, key=lambda s: s['n']) if scale else None
    save_result('stages23_scale', {'n': n, 'runs': runs, 'ratio': ratio, 'ratio_clustering': ratio_clus, 'as3l_s': t_as3l,
                                   'scale': scale, 'time_exponent': slope, 'quick': a.quick, 'epochs': a.epochs})
    mem = f"peak {big['peak_mb']:.0f} MiB at N={big['n']}" if big else "no scaling run"
    met = t_as3l < GOAL_S and ratio >= GOAL_X and (big is not None and big['peak_mb'] < GOAL_MB)
    headline('stages23_scale', f"N={n}: {t_as3l:.1f} s (goal < {GOAL_S:g} s), {ratio:.2f}x the sklearn build (goal >= {GOAL_X:g}x); "
             f"{mem} (goal < {GOAL_MB} MiB); time ~ N^{slope if slope is None else round(slope, 2)}", met)


if __name__ == '__main__':
    main()
