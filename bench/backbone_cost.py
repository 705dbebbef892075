"""Benchmark 12: what a pretrained backbone costs here. Stage 1's feature extraction (images/s, seconds per 1,000
images) at each backbone's native size, and the time of `as3l select` on 10,000 images with it.

Random weights: the cost of a forward pass does not depend on them, and no weights can be downloaded here. ViT-S/14
(DINOv2's `dinov2_vits14`, which `torch.hub` would fetch from GitHub) is built from timm's copy of the architecture
(`vit_small_patch14_dinov2` at 224 px, the size the hub path feeds it); without timm that row is skipped.

`select` = stage 1 (extraction of every image) + stage 2 (the Eq. 1 layer capped as in the `cpu` preset, C=6
k-means runs at K = budget, the selection) + the label-free feature report. By default stage 2 and the report run on
10,000 random unit vectors of each backbone's width (their cost depends on N and d only) and stage 1 is projected
from the measured rate; `--full SPEC` also runs the real `run_selection` on 10,000 Fashion-MNIST images with that
backbone from a local weights file (minutes).

    .venv/bin/python bench/backbone_cost.py [--quick] [--images 256] [--n 10000] [--full torchvision:resnet18]

Goal (issue 13): none to meet; the numbers are what a user weighs (extract on this CPU, or on a GPU), and what the
13_tutorial.pretrained notebook and the closing note quote.
"""
from __future__ import annotations
import argparse, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.report import headline, machine_line, save_result, table  # noqa: E402

BACKBONES = ('torchvision:resnet18', 'torchvision:resnet50', 'vit_s14')
VIT_S14 = 'ViT-S/14 (dinov2_vits14 architecture)'


def build(name:str):
    "The backbone `name` with random weights at its native size, or None (with a line) when it cannot be built here."
    from as3l.backbones import PretrainedBackbone, load_backbone
    if name != 'vit_s14': return load_backbone(name, pretrained=False)
    try: import timm
    except ImportError:
        print(f"# SKIP {VIT_S14}: needs timm (pip install 'as3l[timm]')"); return None
    net = timm.create_model('vit_small_patch14_dinov2', pretrained=False, num_classes=0, img_size=224)
    return PretrainedBackbone(net, size=224, native_size=224, spec=VIT_S14)


def extraction_rate(bb, n:int) -> float:
    "Images per second of `extract_features` (batches of 64, as stage 1 runs it), after one warm-up batch."
    import torch
    from as3l.images import from_arrays
    from as3l.simsiam import extract_features
    g = torch.Generator().manual_seed(0)
    data = from_arrays(torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=g).numpy(), [0] * n)
    extract_features(bb, data.subset(range(min(8, n))), batch_size=8, device='cpu')   # warm-up: allocator, kernels
    t = time.perf_counter()
    extract_features(bb, data, batch_size=64, device='cpu')
    return n / (time.perf_counter() - t)


def stage2_seconds(n:int, d:int, budget:int=10, seed:int=0) -> float:
    "Seconds of stage 2 + the feature report on `n` x `d` unit vectors, with the `cpu` preset's settings."
    import numpy as np
    from as3l.active import finetune_features, select_multicluster
    from as3l.config import AS3LConfig
    from as3l.features import feature_report
    cfg = AS3LConfig.from_preset('cpu')
    f = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    t = time.perf_counter()
    f_fine = finetune_features(f, budget, cfg.n_clusterings, cfg.finetune_epochs, cfg.finetune_steps, seed=seed, device='cpu')
    select_multicluster(f_fine, budget, seed, cfg.n_clusterings)
    feature_report(f, f_fine, budget, seed, 'backbone')
    return time.perf_counter() - t


def full_select(spec:str, n:int) -> float|None:
    "Wall seconds of the real stages 1-2 (`run_selection`) on `n` Fashion-MNIST images, weights from a local file."
    import torch
    from as3l.backbones import load_backbone
    from as3l.data import load_dataset
    from as3l.config import AS3LConfig
    from as3l.pipeline import prepare_run, run_selection
    try: data = load_dataset('fashion_mnist')
    except (FileNotFoundError, ValueError) as e:
        print(f"# SKIP full select: Fashion-MNIST not found ({e}; apt-get install dataset-fashion-mnist)"); return None
    with tempfile.TemporaryDirectory() as tmp:
        w = Path(tmp)/'weights.pt'
        torch.save(load_backbone(spec, pretrained=False).encoder.state_dict(), w)   # head-less: allowed
        cfg = AS3LConfig.from_preset('cpu', dataset='fashion_mnist', max_train=n, backbone=spec, weights=str(w),
                                     run_dir=str(Path(tmp)/'run'), device='cpu')
        t = time.perf_counter()
        run_selection(prepare_run(cfg, data))
        return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='seconds: resnet18 only, 16 images, stage 2 on 500 vectors')
    ap.add_argument('--backbones', default=','.join(BACKBONES), help="comma-separated specs; 'vit_s14' = ViT-S/14")
    ap.add_argument('--images', type=int, default=256, help='images timed per backbone')
    ap.add_argument('--n', type=int, default=10_000, help='images of the projected `select`')
    ap.add_argument('--full', default='', help='also run the real run_selection on --n Fashion-MNIST images with this spec')
    a = ap.parse_args(argv)
    names = ['torchvision:resnet18'] if a.quick else a.backbones.split(',')
    n_img, n = (16, 500) if a.quick else (a.images, a.n)
    print(machine_line())
    rows = []
    for name in names:
        bb = build(name)
        if bb is None: continue
        ips = extraction_rate(bb.eval(), n_img)
        s2 = stage2_seconds(n, bb.feat_dim)
        rows.append(dict(backbone=bb.spec, size=bb.size, d=bb.feat_dim, params_M=sum(p.numel() for p in bb.parameters()) / 1e6,
                         img_per_s=ips, s_per_1000=1000 / ips, stage2_s=s2, select_min=(n / ips + s2) / 60))
        print(f"# {bb.spec}: {ips:.1f} images/s, stage 2 on {n} x {bb.feat_dim}: {s2:.1f} s", flush=True)
    print(table(rows, ['backbone', 'size', 'd', 'params_M', 'img_per_s', 's_per_1000', 'stage2_s', 'select_min']))
    full = full_select(a.full, n) if a.full and not a.quick else None
    if full is not None: print(f"# real run_selection, {a.full}, {n} Fashion-MNIST images: {full:.0f} s ({full/60:.1f} min)")
    save_result('backbone_cost', {'rows': rows, 'n': n, 'images_timed': n_img, 'full': {a.full: full} if a.full else {}})
    text = '; '.join(f"{r['backbone']} {r['img_per_s']:.0f} img/s, select {n:,} in {r['select_min']:.1f} min" for r in rows)
    return headline('backbone_cost', text or 'no backbone could be built', None)


if __name__ == '__main__':
    main()
