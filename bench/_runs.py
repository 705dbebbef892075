"""Shared runners of the accuracy benchmarks (1, 2, 3): AS3L through as3l.pipeline's stage functions, and the
FlexMatch-from-scratch baseline (random selection, no SimSiam init, no prior) through as3l.flexmatch.train_ssl,
with the same SSLConfig, iterations, labels budget and seeds.

Accuracies are in percent, from train_ssl's eval history (EMA model on the test split; train_ssl reports fractions)."""
from __future__ import annotations
import os, shutil, tempfile, time
from pathlib import Path

os.environ.setdefault('CI', '1')   # as3l.core.progress: no bars in benchmark output

import numpy as np

from _util import SHARED_DATA

CIFAR = SHARED_DATA / 'cifar10_10k.npz'


def load(name:str):
    "('digits' | 'cifar10_10k') -> (train, test) ImageData, or None when the CIFAR subset is absent."
    from as3l.data import load_dataset
    if name == 'digits': return load_dataset('digits')
    if name == 'cifar10_10k':
        if not CIFAR.exists(): return None
        return load_dataset('npz', root=str(CIFAR))
    raise ValueError(f"unknown benchmark data set {name!r}")


def _ssl_kwargs(cfg, n_evals:int) -> dict:
    it = cfg.ssl_config().iterations
    return {'eval_every': max(1, it // n_evals), 'log_every': max(1, it // 10)}


def features(cfg, train, run_dir:Path):
    "Stage 1 once per (data, seed): SimSiam + f_self; returns (f_self, simsiam encoder state)."
    from as3l.core import load_checkpoint
    from as3l.pipeline import stage_features
    run_dir.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    f_self, _ = stage_features(cfg, train, run_dir)
    sim = run_dir / 'simsiam.pt'
    state = load_checkpoint(sim)['encoder'] if sim.exists() else None
    return f_self, state, time.perf_counter() - t


def as3l_from_features(cfg, train, test, f_self, simsiam_state, run_dir:Path, n_evals:int=20) -> dict:
    "Stages 2-4 of the pipeline for cfg (strategy, budget, seed) on precomputed f_self; metrics + eval history."
    import as3l.pipeline as P
    from as3l.active import class_coverage
    from as3l.flexmatch import evaluate, train_ssl
    from as3l.propagate import prior_accuracy, unlabeled_mask
    if run_dir.exists(): shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    y = train.y.numpy()
    t = time.perf_counter()
    idx, f_fine = P.stage_selection(cfg, f_self, run_dir, labels=y)
    prior, _ = P.stage_prior(cfg, f_fine, idx, y[idx], train.num_classes, run_dir)
    t_sel = time.perf_counter() - t
    kw = _ssl_kwargs(cfg, n_evals)
    orig = P.train_ssl
    P.train_ssl = lambda *a, **k: orig(*a, **{**k, **kw})        # denser eval history; nothing else changes
    try: res, ema = P.stage_train(cfg, train, test, idx, y[idx], prior, run_dir=run_dir, ssl_dir=run_dir / 'ssl',
                                  simsiam_state=simsiam_state)
    finally: P.train_ssl = orig
    unlabelled = unlabeled_mask(len(y), idx)
    return _pct({'method': 'as3l', 'strategy': cfg.strategy, 'budget': int(len(idx)), 'seed': cfg.seed,
            'coverage': class_coverage(y, idx),
            'prior_acc': 100 * prior_accuracy(prior, y, unlabelled) if prior is not None else None,
            # stage 4 against its own input: the final model on the same unlabelled training images the prior labels
            'unlabelled_acc': 100 * evaluate(ema, train.subset(np.flatnonzero(unlabelled)), norm=train, device=cfg.device),
            'best_acc': res['best_acc'], 'last_acc': res['last_acc'], 'iterations': res['iterations'],
            'history': [(e['step'], e['acc']) for e in res['history']['eval']], 'select_prior_s': t_sel,
            'train_s': res['sec_per_iter'] * res['step']})


def _pct(r:dict) -> dict:
    "train_ssl's accuracies are fractions in [0, 1]: convert accuracies and history to percent."
    r['best_acc'], r['last_acc'] = 100 * r['best_acc'], 100 * r['last_acc']
    r['history'] = [(s, 100 * a) for s, a in r['history']]
    return r


def flexmatch_scratch(cfg, train, test, n_evals:int=20) -> dict:
    "Baseline: random selection, randomly initialised backbone, no prior, same SSLConfig and seed."
    from as3l.active import class_coverage, select_random
    from as3l.core import set_seed
    from as3l.flexmatch import train_ssl
    from as3l.models import build_model
    y = train.y.numpy()
    idx = select_random(np.zeros((len(train), 1), np.float32), cfg.budget, cfg.seed)
    set_seed(cfg.seed)
    model = build_model(cfg.model, train.num_classes, in_channels=train.image_shape[0])
    res = train_ssl(model, train, test, idx, y[idx], prior=None, cfg=cfg.ssl_config(), device=cfg.device,
                    **_ssl_kwargs(cfg, n_evals))
    return _pct({'method': 'flexmatch_scratch', 'strategy': 'random', 'budget': int(len(idx)), 'seed': cfg.seed,
            'coverage': class_coverage(y, idx), 'prior_acc': None, 'best_acc': res['best_acc'], 'last_acc': res['last_acc'],
            'iterations': res['iterations'], 'history': [(e['step'], e['acc']) for e in res['history']['eval']],
            'train_s': res['sec_per_iter'] * res['step']})


def config(preset:str, seed:int, budget:int, run_dir:Path, **overrides):
    from as3l.pipeline import AS3LConfig
    return AS3LConfig.from_preset(preset, seed=seed, budget=budget, run_dir=str(run_dir), device='cpu', **overrides)


def workdir(name:str) -> Path:
    "A fresh temporary folder for one benchmark's run folders."
    return Path(tempfile.mkdtemp(prefix=f"as3l_bench_{name}_"))


def mean_std(v) -> tuple[float, float]:
    v = np.asarray([a for a in v if a is not None], float)
    return (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0) if len(v) else (float('nan'), float('nan'))
