"""Benchmark 6: training-step overhead of AS3L's prior-guided FlexMatch step (`as3l.ssl_loop.train_ssl`: index
batches, uint8 -> float, weak + strong augmentation, normalise, forward, losses, posterior with the prior, FlexMatch
thresholds, backward, SGD update, memory update, EMA) against the model's pure forward+backward on the same tensor
(one pre-augmented input of the same shape, cross entropy, backward).

Goal: overhead = step / (forward+backward) - 1 <= 25%, on 'cnn' (32x32) and 'wrn28_2' (a few steps).
Also printed: the overhead against forward+backward+SGD update (what a plain supervised step costs), and the time of
the pieces (augmentation, EMA update, thresholds) measured alone, to show what the overhead is made of.
Rounds alternate: train_ssl for k steps, then k pure steps, so machine load hits both alike.

    .venv/bin/python bench/step_overhead.py [--quick] [--models cnn,wrn28_2]
"""
from __future__ import annotations
import argparse, os, sys, time

os.environ.setdefault('CI', '1')   # as3l.core.progress: no tqdm bars in the benchmark output
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.report import headline, machine_line, med, save_result, table  # noqa: E402

GOAL = 0.25


def make_data(n:int=2000):
    "CIFAR-10 subset images (or uniform noise when absent) as ImageData, 10 classes."
    from as3l.images import from_arrays
    from benchlib.data import cifar_or_noise
    x, y, src = cifar_or_noise(n)
    return from_arrays(x, y, classes=[str(i) for i in range(10)]), src


def bench_model(name:str, data, B:int, mu:int, k:int, rounds:int, seed:int=0) -> dict:
    "Interleave k train_ssl steps and k pure forward+backward(+SGD) steps `rounds` times; returns medians per step."
    from as3l.augment import strong_augment, weak_augment
    from as3l.images import normalize
    from as3l.flexmatch import FlexMatchMemory, SSLConfig
    from as3l.models import build_model
    from as3l.ssl_loop import train_ssl
    from as3l.training import ModelEMA
    from benchlib.runs import ssl_optimizer
    torch.manual_seed(seed)
    C, N = data.num_classes, len(data)
    y = data.y.numpy()
    lab = np.concatenate([np.flatnonzero(y == c)[:4] for c in range(C)])
    prior = np.random.default_rng(seed).dirichlet(np.ones(C), N).astype(np.float32)   # exercises the Eq. 5 path
    cfg = SSLConfig.from_preset('cpu', batch_size=B, mu=mu, iterations=10**6, T=10**6 - 1, seed=seed)
    model = build_model(name, C, 3)
    # the pure step's input: one batch built exactly like the trainer's, reused every step
    g = torch.Generator().manual_seed(seed)
    xl = data.x[torch.as_tensor(lab[np.arange(B) % len(lab)])].float() / 255
    xu = data.x[torch.randperm(N, generator=g)[:mu * B]].float() / 255
    inp = normalize(torch.cat([weak_augment(xl, generator=g), weak_augment(xu, generator=g),
                               strong_augment(xu, n_ops=cfg.strong_ops, cutout=cfg.cutout, generator=g)]), data)
    tgt = torch.randint(0, C, (len(inp),), generator=g)
    opt = ssl_optimizer(model, cfg)   # the optimiser train_ssl builds

    def pure(update:bool):
        model.train()
        t = time.perf_counter()
        for _ in range(k):
            loss = F.cross_entropy(model(inp), tgt)
            opt.zero_grad(set_to_none=True); loss.backward()
            if update: opt.step()
        return (time.perf_counter() - t) / k

    def ssl():
        t = time.perf_counter()
        r = train_ssl(model, data, None, lab, y[lab], prior=prior, cfg=cfg, device='cpu', max_steps=k,
                      log_every=10**9, eval_every=10**9)
        return r['sec_per_iter'], (time.perf_counter() - t) / k

    # pieces alone (same shapes as one step)
    def pieces():
        xl8, xu8 = data.x[:B], data.x[:mu * B]
        t = time.perf_counter()
        a, b = xl8.float().div_(255), xu8.float().div_(255)
        normalize(torch.cat([weak_augment(a, generator=g), weak_augment(b, generator=g),
                             strong_augment(b, n_ops=cfg.strong_ops, cutout=cfg.cutout, generator=g)]), data)
        t_aug = time.perf_counter() - t
        ema = ModelEMA(model, cfg.ema); t = time.perf_counter(); ema.update(model); t_ema = time.perf_counter() - t
        mem = FlexMatchMemory(N, C); t = time.perf_counter(); mem.thresholds(); t_thr = time.perf_counter() - t
        return t_aug, t_ema, t_thr

    ssl(); pure(False)      # warm-up (allocator, first-call overheads)
    res = {'ssl': [], 'ssl_wall': [], 'fwd_bwd': [], 'fwd_bwd_sgd': [], 'aug': [], 'ema': [], 'thr': []}
    for _ in range(rounds):
        s, w = ssl(); res['ssl'].append(s); res['ssl_wall'].append(w)
        res['fwd_bwd'].append(pure(False))
        res['fwd_bwd_sgd'].append(pure(True))
        a, e, th = pieces(); res['aug'].append(a); res['ema'].append(e); res['thr'].append(th)
    # paired per-round ratios (robust to load drifting between rounds)
    ov = med([s / p - 1 for s, p in zip(res['ssl'], res['fwd_bwd'])])
    ov_sgd = med([s / p - 1 for s, p in zip(res['ssl'], res['fwd_bwd_sgd'])])
    return {'model': name, 'images_per_step': B * (1 + 2 * mu), 'B': B, 'mu': mu, 'k': k, 'rounds': rounds,
            'ssl_s': med(res['ssl']), 'fwd_bwd_s': med(res['fwd_bwd']), 'fwd_bwd_sgd_s': med(res['fwd_bwd_sgd']),
            'overhead': ov, 'overhead_vs_sgd': ov_sgd, 'aug_s': med(res['aug']), 'ema_s': med(res['ema']),
            'thr_s': med(res['thr']), 'raw': res}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--quick', action='store_true', help='small batches, 2 rounds (a few minutes)')
    ap.add_argument('--models', default='cnn,wrn28_2')
    ap.add_argument('--threads', type=int, default=None, help='torch threads (default: torch default)')
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    print(machine_line())
    data, src = make_data()
    # (B, mu, steps per round, rounds); FixMatch's paper batch is 64 + 2*7*64 images per step
    # one step per round and many rounds: each ssl step is paired with the pure steps right after it (load drifts)
    plan = {'cnn': (16, 7, 1, 3) if a.quick else (64, 7, 1, 6),
            'wrn28_2': (4, 7, 1, 3) if a.quick else (16, 7, 1, 5)}
    rows = []
    for name in a.models.split(','):
        B, mu, k, r = plan.get(name, plan['cnn'])
        t = time.perf_counter()
        rows.append(bench_model(name, data, B, mu, k, r))
        print(f"# {name}: done in {time.perf_counter() - t:.0f} s", flush=True)
    print(f"# data: {src}; prior: random Dirichlet (exercises Eq. 5); step = as3l.ssl_loop.train_ssl loop time per step")
    cols = ['model', 'images_per_step', 'ssl_s', 'fwd_bwd_s', 'fwd_bwd_sgd_s', 'overhead', 'overhead_vs_sgd', 'aug_s', 'ema_s', 'thr_s']
    print(table(rows, cols))
    save_result('step_overhead', {'rows': rows, 'data': src, 'quick': a.quick, 'threads': torch.get_num_threads()})
    worst = max(r['overhead'] for r in rows)
    txt = ', '.join(f"{r['model']} {100 * r['overhead']:+.0f}%" for r in rows)
    headline('step_overhead', f"FlexMatch step vs pure forward+backward: {txt} (goal <= +{100 * GOAL:.0f}%)", worst <= GOAL)
    return rows


if __name__ == '__main__':
    main()
