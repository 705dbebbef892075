"""Benchmark 17: every stage against the simplest use of the same features (issue 28).

For each data set (digits, Fashion-MNIST 10k, the CIFAR-10 subset) and feature kind (SimSiam at the `cpu` preset,
raw-pixel PCA, a real ImageNet encoder: EfficientNet-Lite0 frozen at 224 px), stage 1 runs once (seed 0) through the
pipeline; then for 1 and 4 labels per class and each seed:
- the 20-line pipeline on the run's own f_self (`as3l.features.simplest_pipeline`: k-means K = budget, the image
  nearest each centre, LabelSpreading): class coverage, accuracy on the images it did not label;
- as3l's stages 2-3 at the preset's defaults and with the paper's method (Eq. 1 + seeded k-means prior): coverage,
  1-NN accuracy from the picks, prior accuracy;
- with --stage4: stage 4 at the defaults, and with --stage4 auto,head,flexmatch each way on the same picks and prior
  (a linear head fitted to the prior on stage 1's stored features; FlexMatch with the prior kept): accuracy on the
  unlabelled images and on the test split.
Accuracies on the unlabelled training images, in percent; gains = as3l minus the simplest pipeline on the same rows.
Goal: on every row as3l's default ends at or above the simplest pipeline (at most 1 point below counts as level);
moonshot: +5 points on every row.

    .venv/bin/python bench/same_features.py                       # stages 2-3, 3 seeds (minutes after stage 1)
    .venv/bin/python bench/same_features.py --stage4 --seeds 0    # and stage 4 (FlexMatch rows: minutes each)
    .venv/bin/python bench/same_features.py --kinds simsiam --arms as3l --stage4 head,flexmatch   # both, same picks
    .venv/bin/python bench/same_features.py --quick               # digits, pixels, one row: seconds
"""
from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.report import RESULTS, headline, machine_line, save_result, table  # noqa: E402

KINDS = ('simsiam', 'pixels', 'effnet')
DATA = {'digits': dict(dataset='digits'), 'fmnist': dict(dataset='fashion_mnist'), 'cifar': dict(dataset='npz')}


def _config(data:str, kind:str, root:Path, **kw):
    from as3l.config import AS3LConfig
    from benchlib import effnet
    from benchlib.data import CIFAR
    extra = {'data_root': str(CIFAR)} if data == 'cifar' else {}
    if kind == 'pixels': extra['features'] = 'pixels'
    if kind == 'effnet':
        extra.update(backbone=effnet.SPEC, weights=str(effnet.efficientnet_lite0_weights(RESULTS / 'tf_efficientnet_lite0.pt')), freeze_backbone=True)
    return AS3LConfig.from_preset('cpu', run_dir=str(root / f'{data}_{kind}'), device='cpu', **DATA[data], **extra, **kw)


def _absent(data:str, kind:str) -> str | None:
    from benchlib import effnet
    from benchlib.data import CIFAR, absent
    from as3l.data import FASHION_MNIST_SYSTEM_DIR
    if data == 'cifar' and not CIFAR.exists(): return absent('cifar10_10k')
    if data == 'fmnist' and not FASHION_MNIST_SYSTEM_DIR.exists(): return absent('fashion_mnist')
    return effnet.available() if kind == 'effnet' else None


def _acc(pred, y, picks) -> float:
    import numpy as np
    m = np.ones(len(y), bool); m[picks] = False
    return 100 * float((np.asarray(pred)[m] == y[m]).mean())


def rows_for(data:str, kind:str, root:Path, lpcs, seeds, stage4=(), arms=('as3l', 'paper')) -> list[dict]:
    "Every row of one (data, kind): the simplest pipeline, as3l's stages 2-3 (default and paper), stage 4 if asked."
    import numpy as np
    from as3l.config import AS3LConfig, resolve_config
    from as3l.features import simplest_pipeline
    from as3l.pipeline import prepare_run, run_selection
    from as3l.stages import stage_prior, stage_selection
    base = _config(data, kind, root)
    t = time.perf_counter(); run = prepare_run(base); sel = run_selection(run); t1 = time.perf_counter() - t
    f, y, C = sel.f_self, run.train.y.numpy(), run.train.num_classes
    out = []
    for lpc in lpcs:
        for s in seeds:
            b = lpc * C
            picks, pred = simplest_pipeline(f, y, b, s)
            row = dict(data=data, kind=kind, lpc=lpc, seed=s, stage1_s=round(t1, 1),
                       simplest_cov=int(len(np.unique(y[picks]))), simplest=_acc(pred, y, picks))
            for name, kw in (a for a in (('as3l', {}), ('paper', AS3LConfig.PAPER_METHOD)) if a[0] in arms):
                plan = resolve_config(base.replace(budget=b, seed=s, **kw), min(run.train.image_shape[1:]))
                sd = run.run_dir / f'rows/{name}_{lpc}_{s}'; sd.mkdir(parents=True, exist_ok=True)
                st = stage_selection(plan.selection, f, sd, labels=y, device='cpu')
                pr = stage_prior(plan.prior, st.f_fine, st.selected, y[st.selected], C, sd)
                nn1 = st.selected[np.argmax(f @ f[st.selected].T, 1)]
                row.update({f'{name}_cov': int(len(np.unique(y[st.selected]))), f'{name}_1nn': _acc(y[nn1], y, st.selected),
                            f'{name}_prior': _acc(pr.prior.argmax(1), y, st.selected)})
                if name == 'as3l':
                    done = {}   # resolved stage 4 -> its columns: 'auto' and the mode it resolves to train once
                    for mode in stage4:
                        p4 = plan if mode == 'auto' else resolve_config(base.replace(budget=b, seed=s, stage4=mode),
                                                                       min(run.train.image_shape[1:]))
                        kind4 = 'head' if p4.train.head_only else 'flexmatch'
                        if kind4 not in done:
                            done[kind4] = _stage4(p4, run, sel, st, y, pr.prior, sd)
                        prefix = 'as3l' if mode == 'auto' else mode
                        row.update({f'{prefix}_{k}': v for k, v in done[kind4].items()})
                        if mode == 'auto': row['stage4'] = kind4
            out.append(row)
            print(json.dumps(row), flush=True)
    return out


def _stage4(plan, run, sel, st, y, prior, sd:Path) -> dict:
    "Stage 4 of one row: accuracy on the unlabelled images and the test split, and its seconds (FlexMatch resumes `sd/ssl`)."
    from as3l.predict import predict
    from as3l.stages import stage_train
    t = time.perf_counter()
    tr = stage_train(plan.train, plan.ssl, run.train, run.test, st.selected, y[st.selected], prior, sd, sd / 'ssl',
                     encoder=sel.encoder, features=sel.f_self)
    probs = tr.probs if tr.probs is not None else predict(tr.model, run.train, stats=(tr.train.mean, tr.train.std))
    return dict(final=_acc(probs.argmax(1), y, st.selected), test=100 * tr.metrics['best_acc'],
                s=round(time.perf_counter() - t, 1))


def summary(rows:list[dict]) -> list[dict]:
    "Means over seeds per (data, kind, labels/class), with the gains over the simplest pipeline."
    import pandas as pd
    df = pd.DataFrame(rows)
    cols = [c for c in ('simplest', 'as3l_prior', 'paper_prior', 'as3l_final', 'as3l_test', 'head_final', 'flexmatch_final',
                        'simplest_cov', 'as3l_cov', 'paper_cov') if c in df]
    g = df.groupby(['data', 'kind', 'lpc'])[cols].mean().round(1)
    g['n_seeds'] = df.groupby(['data', 'kind', 'lpc']).seed.nunique()
    g['prior_gain'] = (g['as3l_prior'] - g['simplest']).round(1)
    for col, gain in (('as3l_final', 'final_gain'), ('head_final', 'head_gain'), ('flexmatch_final', 'flexmatch_gain')):
        if col in g: g[gain] = (g[col] - g['simplest']).round(1)
    return g.reset_index().to_dict('records')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', default='digits,fmnist,cifar'); ap.add_argument('--kinds', default=','.join(KINDS))
    ap.add_argument('--labels-per-class', default='1,4'); ap.add_argument('--seeds', default='0,1,2')
    ap.add_argument('--stage4', nargs='?', const='auto', default='',
                    help="also train stage 4: 'auto' (the defaults), or a list such as auto,head,flexmatch on the same "
                         "picks and prior (slow: minutes a FlexMatch row)")
    ap.add_argument('--root', default=str(RESULTS / 'same_features'), help='run folders (stage 1 is reused from here)')
    ap.add_argument('--arms', default='as3l,paper', help="stages 2-3 at the defaults ('as3l') and with the paper's method ('paper')")
    ap.add_argument('--quick', action='store_true', help='digits, pixel features, 1 label/class, seed 0: seconds')
    a = ap.parse_args(argv)
    if a.quick: a.data, a.kinds, a.labels_per_class, a.seeds = 'digits', 'pixels', '1', '0'
    print(machine_line())
    rows = []
    for data in a.data.split(','):
        for kind in a.kinds.split(','):
            why = _absent(data, kind)
            if why: print(f"skipped {data}/{kind}: {why}"); continue
            rows += rows_for(data, kind, Path(a.root), [int(v) for v in a.labels_per_class.split(',')],
                             [int(v) for v in a.seeds.split(',')], tuple(m for m in a.stage4.split(',') if m), tuple(a.arms.split(',')))
    summ = summary(rows) if rows else []
    print(table(summ))
    save_result('same_features' + ('_stage4' if a.stage4 else ''), {'rows': rows, 'summary': summ})
    key = next((k for k in ('final_gain', 'head_gain', 'flexmatch_gain') if summ and k in summ[0]), 'prior_gain')
    worst = min((r[key] for r in summ), default=float('nan'))
    print(headline('same_features', f"worst {key} over the simplest pipeline on the same features: {worst:+.1f} points "
                   f"({len(summ)} rows)", worst >= -1.0))


if __name__ == '__main__':
    main()
