"""Benchmark 16: do the predictions' confidences mean what they say?

`as3l train` writes, for every image, `softmax` (the model's max softmax) and `est_confidence` (that softmax tempered
so its mean is the accuracy estimated without labels: `as3l.pipeline.estimated_accuracy` over the calibrated prior).
This benchmark puts both beside the truth on the unlabelled training images of finished pipeline runs at the `cpu`
preset, 1 label/class: the accuracy, the label-free estimate, the mean softmax, and the ECE of each column.

Runs: `run_as3l` with the `cpu` preset for each `--datasets` x `--seeds` in `--root/<dataset>_s<seed>` (a finished
folder is read back in seconds), plus any existing run folders given with `--runs` (their `config.json` is reused).
Labels are used only to measure. Goal (issue "Numbers a user reads must be true"): |mean confidence - accuracy| <= 0.05.

    .venv/bin/python bench/confidence.py [--datasets fashion_mnist,cifar10_10k] [--seeds 0] [--root DIR] [--runs DIR ...]
        [--quick]

`--quick`: digits at the `smoke` preset, seed 0 (plumbing only: a smoke model says nothing about calibration).
"""
from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import headline, machine_line, save_result, table  # noqa: E402

DATA = {'fashion_mnist': {'dataset': 'fashion_mnist'},
        'cifar10_10k': {'dataset': 'npz', 'data_root': None},   # data_root filled from _runs.CIFAR
        'digits': {'dataset': 'digits'}}


def config_for(name:str, seed:int, root:Path, preset:str='cpu'):
    import _runs as R
    from as3l.pipeline import AS3LConfig
    over = dict(DATA[name])
    if name == 'cifar10_10k':
        if not R.CIFAR.exists(): return None
        over['data_root'] = str(R.CIFAR)
    model = 'cnn_small' if name == 'digits' else 'cnn'   # what `as3l run` picks by image size
    return AS3LConfig.from_preset(preset, seed=seed, run_dir=str(root / (f'{name}_s{seed}' + ('' if preset == 'cpu' else f'_{preset}'))),
                                  model=model, **over)


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
    from as3l.core import load_json
    from as3l.pipeline import AS3LConfig, run_as3l
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
        try: m = run_as3l(cfg).metrics
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
