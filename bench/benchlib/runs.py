"""Runs the accuracy benchmarks share: AS3L through `as3l.stages` on features computed once, FlexMatch from scratch
(random picks, random init, no prior) with the same SSLConfig, iterations, budget and seed, and a few training pieces.

Accuracies are in percent, from `train_ssl`'s eval history (EMA model on the test split; train_ssl reports fractions).
Configs are resolved for the images (`as3l.config.resolve_config`), so the backbone is the one `as3l run` picks by
image size (`model_for_size`) unless a benchmark names one."""
from __future__ import annotations
import shutil, time
from pathlib import Path

import numpy as np


def config(preset:str, seed:int, budget:int, run_dir:Path, **overrides):
    "`AS3LConfig.from_preset(preset, ...)` on the CPU (benchmarks time the CPU), stage 4 FlexMatch unless overridden."
    from as3l.config import AS3LConfig
    # these benchmarks (1-3, 13, the ladder) measure prior-guided FlexMatch, the paper's stage 4; the cpu preset's
    # default head on SimSiam's features is measured beside it by benchmark 17 (same_features.py)
    overrides.setdefault('stage4', 'flexmatch')
    return AS3LConfig.from_preset(preset, seed=seed, budget=budget, run_dir=str(run_dir), device='cpu', **overrides)


def plan_for(cfg, train):
    "Each stage's config of `cfg` resolved for these training images (`RunPlan`), as `prepare_run` resolves it on a CPU."
    from as3l.config import resolve_config
    return resolve_config(cfg, min(train.image_shape[1:]), cuda=False)


def ssl_options(ssl, n_evals:int) -> dict:
    "`train_ssl`'s eval_every / log_every for `n_evals` evaluations over the run (a denser eval history than the default)."
    return {'eval_every': max(1, ssl.iterations // n_evals), 'log_every': max(1, ssl.iterations // 10)}


def features(cfg, train, run_dir:Path):
    "Stage 1 once per (data, seed): (f_self, SimSiam encoder state or None, seconds)."
    from as3l.stages import stage_features
    run_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_for(cfg, train)
    t = time.perf_counter()
    res = stage_features(plan.features, plan.simsiam, train, run_dir, device=cfg.device)
    return res.f_self, res.encoder, time.perf_counter() - t


def _pct(r:dict) -> dict:
    "train_ssl's accuracies are fractions in [0, 1]: convert accuracies and history to percent."
    r['best_acc'], r['last_acc'] = 100 * r['best_acc'], 100 * r['last_acc']
    r['history'] = [(s, 100 * a) for s, a in r['history']]
    return r


def as3l_from_features(cfg, train, test, f_self, encoder, run_dir:Path, n_evals:int=20) -> dict:
    "Stages 2-4 for cfg (strategy, budget, seed) on precomputed f_self and SimSiam encoder: metrics + eval history."
    from as3l.active import class_coverage
    from as3l.propagate import prior_accuracy, unlabeled_mask
    from as3l.ssl_loop import evaluate
    from as3l.stages import stage_prior, stage_selection, stage_train
    if run_dir.exists(): shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    plan, y = plan_for(cfg, train), train.y.numpy()
    t = time.perf_counter()
    sel = stage_selection(plan.selection, f_self, run_dir, labels=y, device=cfg.device)
    idx = sel.selected
    prior = stage_prior(plan.prior, sel.f_fine, idx, y[idx], train.num_classes, run_dir).prior
    t_sel = time.perf_counter() - t
    tr = stage_train(plan.train, plan.ssl, train, test, idx, y[idx], prior, run_dir, run_dir / 'ssl', encoder=encoder,
                     **ssl_options(plan.ssl, n_evals))
    res, unlabelled = tr.metrics, unlabeled_mask(len(y), idx)
    return _pct({'method': 'as3l', 'strategy': cfg.strategy, 'budget': int(len(idx)), 'seed': cfg.seed,
            'coverage': class_coverage(y, idx),
            'prior_acc': 100 * prior_accuracy(prior, y, unlabelled) if prior is not None else None,
            # stage 4 against its own input: the final model on the same unlabelled training images the prior labels
            'unlabelled_acc': 100 * evaluate(tr.model, tr.train.subset(np.flatnonzero(unlabelled)), norm=tr.train, device=cfg.device),
            'best_acc': res['best_acc'], 'last_acc': res['last_acc'], 'iterations': res['iterations'],
            'history': [(e['step'], e['acc']) for e in res['history']['eval']], 'select_prior_s': t_sel,
            'train_s': res['sec_per_iter'] * res['step']})


def selection_and_prior(cfg, train, f_self, run_dir:Path) -> tuple[np.ndarray, np.ndarray|None]:
    "Stages 2-3 only (no labels given to the selection): (selected indices, stage 4's prior)."
    from as3l.stages import stage_prior, stage_selection
    plan, y = plan_for(cfg, train), train.y.numpy()
    sel = stage_selection(plan.selection, f_self, run_dir, device=cfg.device)
    return sel.selected, stage_prior(plan.prior, sel.f_fine, sel.selected, y[sel.selected], train.num_classes, run_dir).prior


def flexmatch_scratch(cfg, train, test, n_evals:int=20) -> dict:
    "Baseline: random selection, randomly initialised backbone, no prior, same SSLConfig and seed."
    from as3l.active import class_coverage, select_random
    from as3l.core import set_seed
    from as3l.models import build_model
    from as3l.ssl_loop import train_ssl
    plan, y = plan_for(cfg, train), train.y.numpy()
    idx = select_random(np.zeros((len(train), 1), np.float32), cfg.budget, cfg.seed)
    set_seed(cfg.seed)
    model = build_model(plan.train.model, train.num_classes, in_channels=train.image_shape[0])
    res = train_ssl(model, train, test, idx, y[idx], prior=None, cfg=plan.ssl, device=cfg.device,
                    **ssl_options(plan.ssl, n_evals))
    return _pct({'method': 'flexmatch_scratch', 'strategy': 'random', 'budget': int(len(idx)), 'seed': cfg.seed,
            'coverage': class_coverage(y, idx), 'prior_acc': None, 'best_acc': res['best_acc'], 'last_acc': res['last_acc'],
            'iterations': res['iterations'], 'history': [(e['step'], e['acc']) for e in res['history']['eval']],
            'train_s': res['sec_per_iter'] * res['step']})


def simsiam_features(cfg, train, steps:int):
    "SimSiam on `cfg`'s backbone stopped after `steps` steps of the preset's schedule: (N, d) f_self."
    from as3l.simsiam import build_simsiam, extract_features, train_simsiam
    scfg = plan_for(cfg, train).simsiam
    model = build_simsiam(scfg, num_classes=train.num_classes, in_channels=train.image_shape[0])
    train_simsiam(model, train, scfg, device='cpu', max_steps=steps)
    return extract_features(model, train, device='cpu')


def random_encoder_features(cfg, train):
    "f_self of the randomly initialised backbone (seed 0) that stage 1 would train."
    from as3l.core import set_seed
    from as3l.models import build_model
    from as3l.simsiam import extract_features
    set_seed(0)
    net = build_model(plan_for(cfg, train).train.model, train.num_classes, in_channels=train.image_shape[0])
    return extract_features(net, train, device='cpu')


def ladder_train(name:str):
    "(train images, labels, classes, the `cpu` config) of a benchmark data set (backbone by image size); None when absent."
    from .data import absent, load
    data = load(name)
    if data is None: print(absent(name)); return None
    train, _ = data
    y, n_cls = train.y.numpy(), train.num_classes
    return train, y, n_cls, config('cpu', 0, n_cls, Path('/nonexistent'), dataset=name)


# ---- benchmarks 1 and 2: AS3L vs FlexMatch from scratch, 1 label/class ----
def efficiency_scale(dataset:str, quick:bool, cifar_simsiam_epochs:int=3, cifar_iterations:int=300) -> dict:
    "Preset and overrides of one data set at benchmark 1's CPU scale (the backbone: by image size, `cnn` on CIFAR)."
    if dataset == 'digits':
        if quick: return dict(preset='cpu', overrides=dict(simsiam={'epochs': 15}, ssl={'iterations': 200, 'T': 75}))
        return dict(preset='cpu', overrides={})
    ss = {'epochs': 1 if quick else cifar_simsiam_epochs}
    it = 60 if quick else cifar_iterations
    return dict(preset='cpu', overrides=dict(simsiam=ss, ssl={'iterations': it, 'T': max(1, it * 3 // 8)}))


def efficiency_runs(dataset:str, seeds, quick:bool, root:Path, cifar_simsiam_epochs:int=3, cifar_iterations:int=300,
                    n_evals:int=20) -> list[dict]:
    "AS3L and FlexMatch from scratch for every seed (1 label/class); rows with accuracies and eval histories."
    from .data import absent, load
    data = load(dataset)
    if data is None: print(absent(dataset)); return []
    train, test = data
    sc = efficiency_scale(dataset, quick, cifar_simsiam_epochs, cifar_iterations)
    rows = []
    for s in seeds:
        cfg = config(sc['preset'], s, train.num_classes, root / f"{dataset}_s{s}", dataset=dataset, **sc['overrides'])
        f_self, encoder, t_feat = features(cfg, train, root / f"{dataset}_s{s}")
        r = as3l_from_features(cfg, train, test, f_self, encoder, root / f"{dataset}_s{s}" / 'as3l', n_evals)
        r.update(dataset=dataset, simsiam_s=t_feat); rows.append(r)
        b = flexmatch_scratch(cfg, train, test, n_evals); b.update(dataset=dataset); rows.append(b)
        print(f"# {dataset} seed {s}: as3l {r['last_acc']:.1f}% (prior {r['prior_acc']:.1f}%, coverage {r['coverage']}) | "
              f"scratch {b['last_acc']:.1f}% (coverage {b['coverage']}) | simsiam {t_feat:.0f} s", flush=True)
    return rows


# ---- training pieces (public behaviour of as3l, rewritten here instead of importing its private helpers) ----
def ssl_optimizer(model, cfg):
    "Stage 4's optimiser, as `train_ssl` builds it."
    from as3l.ssl_loop import ssl_optimizer as build
    return build(model, cfg)


def simsiam_views(x01, data, cfg, generator):
    "Two independent SimSiam augmentations of a [0, 1] batch, normalised, as `train_simsiam` builds them."
    from as3l.augment import simsiam_augment
    from as3l.images import normalize
    kw = dict(scale=tuple(cfg.crop_scale), flip=bool(data.hflip), jitter=tuple(cfg.jitter), p_jitter=cfg.p_jitter,
              generator=generator)
    return [normalize(simsiam_augment(x01, **kw), data) for _ in range(2)]


def knn_monitor(encoder, bank, queries, cfg, device) -> float:
    "SimSiam's kNN monitor: weighted kNN (cfg.knn_k, cfg.knn_t) of `queries` on the labelled `bank`."
    from as3l.simsiam import extract_features, knn_accuracy
    fb, fq = extract_features(encoder, bank, device=device), extract_features(encoder, queries, device=device)
    return knn_accuracy(fb, bank.y, fq, queries.y, k=cfg.knn_k, t=cfg.knn_t)
