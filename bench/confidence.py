"""Benchmark 16: do the predictions' confidences mean what they say?

`as3l train` writes, for every image, `softmax` (the model's max softmax). The package used to write `est_confidence`
too: that softmax tempered so its mean is the accuracy estimated without labels over the calibrated prior. It was
removed after this benchmark measured the estimate missing by up to 23 points (issue #30); the estimate now lives in
`benchlib.metrics` (`estimated_accuracy`, `fit_temperature`, `apply_temperature`). This benchmark puts both beside the
truth on the unlabelled training images of finished pipeline runs at the `cpu` preset, 1 label/class: the accuracy,
the label-free estimate, the mean softmax, and the ECE of each column.

Runs: `run_as3l` with the `cpu` preset for each `--datasets` x `--seeds` in `--root/<dataset>_s<seed>` (a finished
folder is read back in seconds), plus any existing run folders given with `--runs` (their `config.json` is reused).
Labels are used only to measure. Goal (issue "Numbers a user reads must be true"): |mean confidence - accuracy| <= 0.05.

    .venv/bin/python bench/confidence.py [--datasets fashion_mnist,cifar10_10k] [--seeds 0] [--root DIR] [--runs DIR ...]
        [--quick]

`--quick`: digits at the `smoke` preset, seed 0 (plumbing only: a smoke model says nothing about calibration).
"""
from __future__ import annotations
import argparse, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.report import headline, machine_line, save_result, table  # noqa: E402

DATA = {'fashion_mnist': {'dataset': 'fashion_mnist'},
        'cifar10_10k': {'dataset': 'npz', 'data_root': None},   # data_root filled from benchlib.data.CIFAR
        'digits': {'dataset': 'digits'}}


def config_for(name:str, seed:int, root:Path, preset:str='cpu'):
    "The run's config; the backbone is the one `as3l run` picks by image size (`model_for_size`, resolved in the run)."
    from as3l.config import AS3LConfig
    from benchlib.data import CIFAR
    over = dict(DATA[name])
    if name == 'cifar10_10k':
        if not CIFAR.exists(): return None
        over['data_root'] = str(CIFAR)
    return AS3LConfig.from_preset(preset, seed=seed, run_dir=str(root / (f'{name}_s{seed}' + ('' if preset == 'cpu' else f'_{preset}'))),
                                  **over)


def confidence_metrics(cfg, res) -> dict:
    "The run's metrics plus the label-free estimate on its unlabelled training images: est_acc, its temperature, its ECE."
    import numpy as np
    from as3l.data import load_dataset
    from as3l.propagate import expected_calibration_error
    from benchlib.metrics import apply_temperature, estimated_accuracy, fit_temperature
    train, _ = load_dataset(cfg.dataset, root=cfg.data_root or None, **({'image_size': cfg.image_size} if cfg.image_size else {}))
    kept = res.run_dir / 'train_idx.npy'   # the run's seeded max_train subset, when it used one
    y = train.y.numpy()[np.load(kept)] if kept.exists() else train.y.numpy()
    if len(y) != len(res.probs): raise ValueError(f"{len(res.probs)} predictions for {len(y)} training images")
    unl = np.setdiff1d(np.arange(len(y)), res.selected)
    prob, calibrated = res.probs[unl], np.load(res.run_dir / 'prior_calibrated.npy')[unl]
    est = estimated_accuracy(prob, calibrated)
    t = fit_temperature(prob, est)
    return {**res.metrics, 'est_acc': est, 'confidence_temperature': t,
            'est_confidence_ece': expected_calibration_error(apply_temperature(prob, t), y[unl])}


def row(label:str, m:dict) -> dict:
    return {'run': label, 'seed': m['seed'], 'coverage': m['class_coverage'], 'prior ECE %': round(100 * m['prior_ece'], 1),
            'accuracy %': round(100 * m['unlabelled_acc'], 1), 'estimated %': round(100 * m['est_acc'], 1),
            'softmax mean %': round(100 * m['softmax_mean'], 1),
            '|est - acc|': round(abs(m['est_acc'] - m['unlabelled_acc']), 3),
            '|softmax - acc|': round(abs(m['softmax_mean'] - m['unlabelled_acc']), 3),
            'ECE est_confidence %': round(100 * m['est_confidence_ece'], 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--datasets', default='fashion_mnist,cifar10_10k')
    ap.add_argument('--seeds', default='0')
    ap.add_argument('--root', default=str(Path(__file__).resolve().parent / 'results' / 'confidence_runs'))
    ap.add_argument('--runs', nargs='*', default=[], help='finished run folders to read back (their config.json)')
    ap.add_argument('--quick', action='store_true', help='digits, smoke preset, seed 0 (plumbing only)')
    a = ap.parse_args(argv)
    if a.quick: a.datasets, a.seeds = 'digits', '0'
    from as3l.config import AS3LConfig
    from as3l.core import load_json
    from as3l.pipeline import run_as3l
    print(machine_line(), flush=True)
    t, rows = time.perf_counter(), []
    cfgs = [(f'{Path(r).name} ({load_json(Path(r) / "config.json")["dataset"]})',
             AS3LConfig.from_dict(load_json(Path(r) / 'config.json'))) for r in a.runs]
    for name in [d for d in a.datasets.split(',') if d]:
        for s in a.seeds.split(','):
            cfg = config_for(name, int(s), Path(a.root), 'smoke' if a.quick else 'cpu')
            if cfg is None: print(f"# SKIP {name}: not found"); continue
            cfgs.append((name, cfg))
    for label, cfg in cfgs:
        try: m = confidence_metrics(cfg, run_as3l(cfg))
        except (FileNotFoundError, ValueError) as e: print(f"# SKIP {label}: {e}"); continue
        rows.append(row(label, m))
        print(f"# {label} seed {cfg.seed}: {m['seconds']:.0f} s", flush=True)
    print(table(rows))
    save_result('confidence' + ('_quick' if a.quick else ''), {'args': vars(a), 'seconds': time.perf_counter() - t, 'rows': rows})
    worst = max((r['|est - acc|'] for r in rows), default=float('nan'))
    raw = max((r['|softmax - acc|'] for r in rows), default=float('nan'))
    headline('confidence', f"worst |estimated - accuracy| {worst:.3f} over {len(rows)} runs (raw softmax: {raw:.3f}) "
             "(goal <= 0.05)", worst <= 0.05)


if __name__ == '__main__':
    main()
