"""Benchmark 10: stage 1's learning curve. 10-NN purity and 1-label/class kNN of SimSiam's `f_self` against minutes.

The `cpu` preset's SimSiam (on the backbone `as3l run` picks) trains once per data set; every `--every` epochs the
run stops at the step cap and resumes from `simsiam_resume.pt` (same schedule, same weights as one uninterrupted
run), and the encoder's features are measured against the raw-pixel PCA-50 floor of the stage ladder. Data: the
ladder's Fashion-MNIST 10k/2k and CIFAR-10 subset; a data set that is absent is skipped with a line saying so.

    .venv/bin/python bench/simsiam_curve.py [--quick] [--datasets fashion_mnist,cifar10_10k] [--epochs 0 (the preset's)]
        [--every 4]

Goal (issue 12): `f_self` beats the pixels on 10-NN purity and 1-label/class kNN within 10 minutes on 2 cores.
"""
from __future__ import annotations
import argparse, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.report import headline, machine_line, save_result, table, workdir  # noqa: E402


def curve(name:str, epochs:int, every:int, root:Path) -> list[dict]:
    "One SimSiam run on data set `name`, measured every `every` epochs; [] when the data set is absent."
    import shutil
    from as3l.simsiam import build_simsiam, extract_features, train_simsiam
    from benchlib.data import absent, load, pixels
    from benchlib.metrics import feature_row
    from benchlib.runs import config, plan_for
    data = load(name)
    if data is None: print(absent(name)); return []
    train, test = data
    y, y_te, n_cls = train.y.numpy(), test.y.numpy(), train.num_classes
    cfg = plan_for(config('cpu', 0, n_cls, root / name, dataset=name, simsiam={'epochs': epochs} if epochs else {}),
                   train).simsiam   # on the backbone `as3l run` picks by image size
    pix = feature_row('raw pixels PCA-50', *pixels(train, test), y, y_te, n_cls)
    rows = [dict(dataset=name, epoch='pixels', minutes=0.0, **{k: pix[k] for k in ('purity10', 'knn_1shot', 'nmi')})]
    run_dir = root / name
    shutil.rmtree(run_dir, ignore_errors=True); run_dir.mkdir(parents=True)
    model, per_epoch, total = build_simsiam(cfg, n_cls, train.image_shape[0]), len(train) // cfg.batch_size, cfg.total_steps(len(train))
    for step in [*range(every * per_epoch, total, every * per_epoch), total]:
        hist = train_simsiam(model, train, cfg, device='cpu', max_steps=step, run_dir=run_dir)
        ep = step // per_epoch if step % per_epoch == 0 else round(step / per_epoch, 1)
        r = feature_row('f_self', extract_features(model.encoder, train, device='cpu'),
                        extract_features(model.encoder, test, device='cpu'), y, y_te, n_cls)
        rows.append(dict(dataset=name, epoch=ep, minutes=hist['seconds'] / 60, purity10=r['purity10'],
                         knn_1shot=r['knn_1shot'], nmi=r['nmi'], z_std=hist['z_std'][-1] / hist['z_std_ref']))
        print(f"# {name} epoch {ep}: {rows[-1]['minutes']:.1f} min, purity {r['purity10']:.3f} "
              f"(pixels {pix['purity10']:.3f}), 1-shot {r['knn_1shot']:.3f} (pixels {pix['knn_1shot']:.3f})", flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--datasets', default='fashion_mnist,cifar10_10k')
    ap.add_argument('--epochs', type=int, default=0, help="SimSiam epochs; 0: the cpu preset's (40 epochs within 3,000-6,000 steps)")
    ap.add_argument('--every', type=int, default=4, help='epochs between measurements')
    ap.add_argument('--quick', action='store_true', help='digits, 2 epochs, measured after each')
    a = ap.parse_args(argv)
    if a.quick: a.datasets, a.epochs, a.every = 'digits', 2, 1
    print(machine_line())
    root, rows = workdir('simsiam_curve'), []
    for name in a.datasets.split(','): rows += curve(name, a.epochs, a.every, root)
    print(table(rows, ['dataset', 'epoch', 'minutes', 'purity10', 'knn_1shot', 'nmi', 'z_std']))
    save_result('simsiam_curve', dict(args=vars(a), rows=rows))
    verdicts = [verdict([r for r in rows if r['dataset'] == name]) for name in dict.fromkeys(r['dataset'] for r in rows)]
    headline('simsiam_curve', '; '.join(v for v, _ in verdicts) + ' (goal: within 10 min)',
             all(ok for _, ok in verdicts) if verdicts else None)


def verdict(rows:list[dict]) -> tuple[str, bool]:
    "When `f_self` first beats the pixels on both purity and 1-shot kNN, and whether that is within 10 minutes."
    px, runs = rows[0], rows[1:]
    first = next((r for r in runs if r['purity10'] > px['purity10'] and r['knn_1shot'] > px['knn_1shot']), None)
    if first: return f"{px['dataset']} beats pixels at {first['minutes']:.1f} min", first['minutes'] <= 10
    return (f"{px['dataset']} below pixels after {runs[-1]['minutes']:.1f} min (purity {runs[-1]['purity10']:.3f} vs "
            f"{px['purity10']:.3f}, 1-shot {runs[-1]['knn_1shot']:.3f} vs {px['knn_1shot']:.3f})"), False


if __name__ == '__main__':
    main()
