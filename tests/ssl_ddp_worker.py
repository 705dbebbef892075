"""Stage 4 under `torch.distributed.run`: every process trains with `as3l.ssl_loop.train_ssl` and writes its model, EMA
model and thresholds to RUN_DIR/rank{r}_state.pt; rank 0 prints the metrics as one JSON line.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/ssl_ddp_worker.py --run-dir DIR \\
        [--dataset digits] [--model cnn_small | --backbone torchvision:resnet18 --weights r18.pt] [--set batch_size=8 mu=2]

Used by tests/test_flexmatch_ddp.py (gloo on CPU); the same script runs on GPUs (nccl) under torchrun.
"""
import argparse, ast, json
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from as3l.backbones import backbone_view, load_backbone
from as3l.core import get_device, set_seed
from as3l.data import load_dataset
from as3l.flexmatch import SSLConfig
from as3l.models import build_model
from as3l.ssl_loop import init_distributed, train_ssl


def parse_sets(pairs):
    "`key=value` pairs with Python-literal values (`ast.literal_eval`; a bare word stays a string), as `as3l run --set`."
    out = {}
    for pair in pairs:
        k, v = pair.split('=', 1)
        try: out[k.strip()] = ast.literal_eval(v)
        except (ValueError, SyntaxError): out[k.strip()] = v
    return out


def stratified_labels(y, per_class, seed):
    "`per_class` random indices of every class (stage 2 selects actively; a test only needs some labels)."
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y[y >= 0])]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--run-dir', required=True); ap.add_argument('--dataset', default='digits')
    ap.add_argument('--model', default='cnn_small'); ap.add_argument('--preset', default='smoke')
    ap.add_argument('--labels-per-class', type=int, default=1); ap.add_argument('--prior', default=None, help='.npy (N, C)')
    ap.add_argument('--max-steps', type=int, default=None); ap.add_argument('--eval-every', type=int, default=None)
    ap.add_argument('--device', default='auto'); ap.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE')
    ap.add_argument('--backbone', default=''); ap.add_argument('--weights', default=None)
    ap.add_argument('--train-size', type=int, default=0); ap.add_argument('--freeze-backbone', action='store_true')
    a = ap.parse_args(argv)
    cfg = SSLConfig.from_preset(a.preset, **parse_sets(a.set))
    device = init_distributed(get_device(a.device))
    rank = dist.get_rank() if dist.is_initialized() else 0
    set_seed(cfg.seed)                     # same seed on every rank -> same initial weights
    train, test = load_dataset(a.dataset)
    idx = stratified_labels(train.y.numpy(), a.labels_per_class, cfg.seed)
    if a.backbone:   # same weights on every rank: from the file, and the head from the shared seed
        model = load_backbone(a.backbone, train.num_classes, a.weights, size=a.train_size, freeze=a.freeze_backbone)
        train, test = backbone_view(train, model), backbone_view(test, model)
    else: model = build_model(a.model, train.num_classes, in_channels=train.x.shape[1])
    res = train_ssl(model, train, test, idx, train.y[idx], prior=np.load(a.prior) if a.prior else None, cfg=cfg,
                    run_dir=a.run_dir, device=device, max_steps=a.max_steps, eval_every=a.eval_every)
    torch.save({'model': model.state_dict(), 'ema': res['ema_model'].state_dict(),
                'thresholds': torch.tensor(res['thresholds'])}, Path(a.run_dir)/f'rank{rank}_state.pt')
    if rank == 0: print(json.dumps({k: v for k, v in res.items() if k not in ('history', 'ema_model')}))
    if dist.is_initialized(): dist.destroy_process_group()


if __name__ == '__main__': main()
