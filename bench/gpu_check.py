"""GPU readiness: one process that runs every CUDA path of as3l at the `paper` presets and says how long the full
paper run would take on this GPU.

Sections (each prints one `SECTION <name>: OK|FAIL|SKIPPED | ...` line; a failing section does not stop the others):
- env        torch / CUDA / GPU / autocast dtype / faiss build and the GPUs it sees, data source.
- simsiam    `as3l.simsiam.train_simsiam`, SimSiamConfig 'paper' (wrn28_2, batch 512, AMP, channels-last, on-device
             augmentations) for --simsiam-steps, the kNN monitor once at the end (timed alone too).
- stages23   `as3l.active.finetune_features` (Eq. 1) on the GPU, `select_multicluster`, `as3l.propagate.cluster_prior`
             on 50,000 x 512 random-but-clustered features; faiss on the GPU when the faiss-gpu build sees one.
- flexmatch  `as3l.ssl_loop.train_ssl`, SSLConfig 'paper' (B 64, mu 7, WRN-28-2, AMP, channels-last, EMA, Eq. 5
             prior), initialised from the SimSiam encoder, --ssl-steps steps, one EMA evaluation.
- throughput images/s of the augmentation path vs the model's forward+backward, for both trainers (input-bound?).
- projection the full `paper` run (SimSiam 800 epochs on 50,000 images, stages 2-3, FlexMatch to T, to 112x1024 and
             to 1024x1024 iterations) from the measured s/step, beside the paper's Table 2 (one RTX 3090).

Exact resume of a killed stage-4 run and two-rank DDP (NCCL) on CUDA are tests, not sections:
`pytest -m cuda tests/test_gpu.py` (CI deselects `cuda`).

Goal: every section OK within 8 minutes on one GPU. Nothing asserts a time.
`--quick` uses tiny step counts, small models and batches (cpu: well under a minute) on the same code paths.

    PYTHONPATH=. python bench/gpu_check.py [--device cuda] [--quick]
"""
from __future__ import annotations
import argparse, contextlib, os, sys, tempfile, time, traceback
from pathlib import Path

os.environ.setdefault('CI', '1')   # as3l.core.progress: no bars in the output

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.report import headline, machine_line, save_result  # noqa: E402

GOAL_S = 8 * 60
# the paper's Table 2 (one RTX 3090, CIFAR-10, 10 labels) and Sec. 4.1 schedule
PAPER_H = {'as3l': 21.70, 'flexmatch': 98.82}
PAPER_IT = {'simsiam': 800 * (50_000 // 512), 'T': 6900, 'as3l_ssl': 112 * 1024, 'flexmatch': 1024 * 1024}
PAPER_N, PAPER_QUERIES = 50_000, 10_000   # CIFAR-10 train images (SimSiam pool, kNN bank) and test queries
# ---------------- plumbing ----------------
def sync(device):
    "Wait for queued GPU work, so wall clocks measure it."
    if device.type == 'cuda': torch.cuda.synchronize(device)


def timed(fn, device):
    "(result, wall seconds) of fn() with the GPU synchronised before and after."
    sync(device); t = time.perf_counter(); out = fn(); sync(device)
    return out, time.perf_counter() - t


def per_call(fn, device, reps:int) -> float:
    "Seconds per call of fn() after one warm-up call."
    fn()
    return timed(lambda: [fn() for _ in range(reps)], device)[1] / reps


@contextlib.contextmanager
def peak_memory(device, out:dict):
    "Write the peak GPU memory (GiB) of the block into out['peak_gib'] ('n/a' off CUDA)."
    if device.type == 'cuda': torch.cuda.reset_peak_memory_stats(device)
    try: yield
    finally: out['peak_gib'] = f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f}" if device.type == 'cuda' else 'n/a'


def section_line(name:str, status:str, fields:dict) -> str:
    line = ' | '.join([f"SECTION {name}: {status}"] + [f"{k} {v}" for k, v in fields.items()])
    print(line, flush=True)
    return line


def run_section(name:str, fn, report:dict):
    "Run one section; its exception becomes a FAIL line (with the traceback above it) instead of ending the check."
    t = time.perf_counter()
    try: status, fields = fn()
    except Exception as e:   # a GPU check must report every broken path in one run
        traceback.print_exc()
        status, fields = 'FAIL', {'error': f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"}
    fields['wall_s'] = f"{time.perf_counter() - t:.1f}"
    report[name] = {'status': status, **fields}
    section_line(name, status, fields)
    return report[name]


# ---------------- data ----------------
def load_images(quick:bool):
    "CIFAR-10 subset as (train, test, source); uniform noise of the same shapes when the file is absent."
    from as3l.images import from_arrays
    from benchlib.data import CIFAR, load
    data = load('cifar10_10k')
    if data is not None: (train, test), src = data, 'cifar10_10k'
    else:
        rng = np.random.default_rng(0)
        mk = lambda n: from_arrays(rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 10,
                                   classes=[str(i) for i in range(10)])
        train, test = mk(10_000), mk(2_000); src = f'random uint8 tensors of the same shapes ({CIFAR} absent)'
    if quick: train, test = train.subset(np.arange(256)), test.subset(np.arange(128))
    return train, test, src


def configs(quick:bool):
    "The `paper` presets; --quick keeps their flags (AMP, channels-last, EMA) on a small model and small batches."
    from as3l.flexmatch import SSLConfig
    from as3l.simsiam import SimSiamConfig
    small_sim = dict(arch='cnn', proj_dim=64, pred_dim=16, batch_size=32, knn_k=20) if quick else {}
    small_ssl = dict(batch_size=8, mu=2, eval_batch_size=128) if quick else {}
    return SimSiamConfig.from_preset('paper', **small_sim), SSLConfig.from_preset('paper', **small_ssl)


# ---------------- sections ----------------
def env_section(device, src:str):
    import faiss
    from as3l.core import amp_dtype
    f = {'torch': torch.__version__, 'cuda': torch.version.cuda, 'device': str(device),
         'amp_dtype': str(amp_dtype(device)).replace('torch.', '')}
    if device.type == 'cuda':
        p = torch.cuda.get_device_properties(device)
        f.update(gpu=p.name, capability='.'.join(map(str, torch.cuda.get_device_capability(device))),
                 gpu_mem_gib=f"{p.total_memory / 2**30:.0f}", gpus_visible=torch.cuda.device_count(),
                 cudnn=torch.backends.cudnn.version())
    ngpu = faiss.get_num_gpus() if hasattr(faiss, 'get_num_gpus') else 0
    f.update(faiss=f"{faiss.__version__} ({'faiss-gpu, ' + str(ngpu) + ' GPUs' if ngpu else 'CPU build or no GPU'})", data=src)
    return 'OK', f


def simsiam_section(train, test, cfg, device, steps:int, ctx:dict):
    "train_simsiam twice (a few warm-up steps pay the process's first-call costs, then `steps`); the kNN monitor is"
    " timed alone and taken out of the second run's wall time: s/step = (wall - monitor) / steps."
    from as3l.simsiam import build_simsiam, train_simsiam
    from benchlib.runs import knn_monitor
    warm = max(1, min(10, steps // 10))
    def run(n, run_dir=None):
        model = build_simsiam(cfg, train.num_classes, train.image_shape[0])
        hist, wall = timed(lambda: train_simsiam(model, train, cfg, device=device, max_steps=n, monitor=test,
                                                 run_dir=run_dir), device)
        return model, hist, wall
    f = {}
    with peak_memory(device, f), tempfile.TemporaryDirectory(prefix='as3l_gpu_check_sim_') as tmp:
        run(warm)
        model, hist, wall = run(steps, tmp)   # a run folder: the once-an-epoch resume file is written from GPU state
        saved = (Path(tmp) / 'simsiam.pt').exists()
        t_knn = timed(lambda: knn_monitor(model.encoder, train, test, cfg, device), device)[1]
    ctx.update(simsiam=model, simsiam_s=max(wall - t_knn, 0.) / steps, knn_s=t_knn, knn_images=len(train) + len(test))
    ok = np.isfinite(hist['loss']).all() and len(hist['knn']) == 1 and saved
    return ('OK' if ok else 'FAIL'), {'s_per_step': f"{ctx['simsiam_s']:.4f}", 'steps': steps, 'arch': cfg.arch,
            'batch': cfg.batch_size, 'amp': cfg.amp, 'channels_last': cfg.channels_last, 'loss': f"{hist['loss'][-1]:.3f}",
            'knn_acc': f"{hist['knn'][-1]:.3f}", 'knn_monitor_s': f"{t_knn:.2f}", 'peak_gib': f['peak_gib']}


def stages23_section(device, n:int, d:int, epochs:int, ctx:dict):
    "Eq. 1 fine-tune on `device`, multi-cluster selection and the cluster prior (faiss: GPU when its build sees one)."
    import faiss
    from benchlib.data import BUDGET, clustered_features
    from as3l.active import class_coverage, finetune_features, select_multicluster
    from as3l.propagate import cluster_prior, prior_accuracy, unlabeled_mask
    x, y = clustered_features(n, d)
    f = {}
    with peak_memory(device, f):
        f_fine, t_ft = timed(lambda: finetune_features(x, BUDGET, 6, epochs, seed=0, device=str(device)), device)
        idx, t_sel = timed(lambda: select_multicluster(f_fine, BUDGET, 0, 6), device)
        prior, t_pr = timed(lambda: cluster_prior(f_fine, idx, y[idx], 10), device)
    ctx['stages23_s'] = (t_ft + t_sel + t_pr) * PAPER_N / n   # fine-tune and k-means are ~linear in N
    acc = prior_accuracy(prior, y, unlabeled_mask(n, idx))
    ngpu = faiss.get_num_gpus() if hasattr(faiss, 'get_num_gpus') else 0
    return 'OK', {'features': f"{n}x{d}", 'finetune_s': f"{t_ft:.2f}", 'epochs': epochs, 'select_s': f"{t_sel:.2f}",
                  'prior_s': f"{t_pr:.2f}", 'faiss': 'gpu' if ngpu else 'cpu', 'coverage': class_coverage(y, idx),
                  'prior_acc': f"{acc:.3f}", 'peak_gib': f['peak_gib']}


def _ssl_inputs(train, seed:int=0):
    "4 labels a class (stratified) and a random Dirichlet prior: exercises Eq. 5 without depending on stage 3's quality."
    from as3l.active import select_stratified
    y = train.y.numpy()
    idx = select_stratified(np.zeros((len(y), 1), np.float32), 4 * train.num_classes, seed, labels=y)
    prior = np.random.default_rng(seed).dirichlet(np.ones(train.num_classes), len(y)).astype(np.float32)
    return idx, y[idx], prior


def ssl_run(train, test, cfg, device, ctx:dict, max_steps:int, eval_every:int):
    "One fresh train_ssl call from the SimSiam encoder (same seed, same init every call): (model, result)."
    from as3l.core import set_seed
    from as3l.flexmatch import init_from_simsiam
    from as3l.models import build_model
    from as3l.ssl_loop import train_ssl
    set_seed(cfg.seed)
    model = build_model(ctx['arch'], train.num_classes, train.image_shape[0])
    init_from_simsiam(model, ctx['simsiam_state'])
    idx, yl, prior = ctx['ssl_inputs']
    res = train_ssl(model, train, test, idx, yl, prior=prior, cfg=cfg, device=device, max_steps=max_steps,
                    eval_every=eval_every)
    return model, res


def flexmatch_section(train, test, cfg, device, steps:int, ctx:dict):
    "A short warm-up run (first-call costs), then `steps`: s/step is train_ssl's own loop time per step (`sec_per_iter`)."
    f = {}
    with peak_memory(device, f):
        short = max(1, min(20, steps // 10))
        ssl_run(train, test, cfg, device, ctx, short, eval_every=short)
        _, res = ssl_run(train, test, cfg, device, ctx, steps, eval_every=steps)
    ctx['ssl_s'] = res['sec_per_iter']
    ok = res['step'] == steps and 0 <= res['last_acc'] <= 1
    return ('OK' if ok else 'FAIL'), {'s_per_step': f"{ctx['ssl_s']:.4f}", 'steps': steps, 'arch': ctx['arch'],
            'B': cfg.batch_size, 'mu': cfg.mu, 'amp': cfg.amp, 'channels_last': cfg.channels_last, 'ema': cfg.ema,
            'ema_acc': f"{res['last_acc']:.3f}", 'prior': 'dirichlet (Eq. 5 on)', 'peak_gib': f['peak_gib']}


def throughput_section(train, sim_cfg, ssl_cfg, device, ctx:dict, reps:int):
    "Augmentation images/s vs the model's forward+backward images/s on the same batch, for both trainers."
    from as3l.core import autocast_ctx
    from as3l.augment import strong_augment, weak_augment
    from as3l.images import normalize
    from as3l.models import build_model
    from as3l.simsiam import build_simsiam, simsiam_loss
    from benchlib.runs import simsiam_views
    g = torch.Generator(device=device).manual_seed(0)
    x8 = train.x.to(device)
    mf = lambda x, cl: x.contiguous(memory_format=torch.channels_last) if cl else x
    # SimSiam: two views of a batch; SimSiam forward (both views) + loss + backward
    xs = x8[:sim_cfg.batch_size].float().div_(255)
    fmt = lambda cl: torch.channels_last if cl else torch.preserve_format
    sim = build_simsiam(sim_cfg, train.num_classes, train.image_shape[0]).to(device=device, memory_format=fmt(sim_cfg.channels_last))
    views = [mf(v, sim_cfg.channels_last) for v in simsiam_views(xs, train, sim_cfg, g)]
    def sim_step():
        with autocast_ctx(device, sim_cfg.amp): out = sim(*views)
        simsiam_loss(*out).backward()
    # FlexMatch: weak labelled + weak and strong unlabelled views, as train_ssl builds them; classifier fwd+bwd on them
    B, Bu = ssl_cfg.batch_size, ssl_cfg.mu * ssl_cfg.batch_size
    xl, xu = x8[:B].float().div_(255), x8[:Bu].float().div_(255)
    def ssl_aug():
        return normalize(torch.cat([weak_augment(xl, generator=g), weak_augment(xu, generator=g),
                                    strong_augment(xu, n_ops=ssl_cfg.strong_ops, cutout=ssl_cfg.cutout, generator=g)]), train)
    net = build_model(ctx['arch'], train.num_classes, train.image_shape[0]).to(device=device, memory_format=fmt(ssl_cfg.channels_last))
    inp = mf(ssl_aug(), ssl_cfg.channels_last); tgt = torch.randint(0, train.num_classes, (len(inp),), device=device)
    def ssl_step():
        with autocast_ctx(device, ssl_cfg.amp): loss = F.cross_entropy(net(inp).float(), tgt)
        loss.backward()
    rows = {}
    for name, aug, model, n_img in [('simsiam', lambda: simsiam_views(xs, train, sim_cfg, g), sim_step, 2 * len(xs)),
                                    ('flexmatch', ssl_aug, ssl_step, len(inp))]:
        ta, tm = per_call(aug, device, reps), per_call(model, device, reps)
        rows[name] = (n_img / ta, n_img / tm, ta / (ta + tm))
    ctx['throughput'] = rows
    f = {}
    for name, (ia, im, share) in rows.items():
        f[f"{name}_aug_img_s"] = f"{ia:.0f}"; f[f"{name}_fwd_bwd_img_s"] = f"{im:.0f}"
        f[f"{name}_aug_share"] = f"{share:.2f}"
    f['input_bound'] = ','.join(n for n, r in rows.items() if r[2] > 0.5) or 'no'
    return 'OK', f


def projection(ctx:dict) -> dict:
    "Hours of the full paper schedule from the measured s/step (and the kNN monitor scaled to 50k + 10k images)."
    h = lambda s: s / 3600
    knn_evals = PAPER_IT['simsiam'] // 2000 + 1
    knn_h = h(knn_evals * ctx['knn_s'] * (PAPER_N + PAPER_QUERIES) / ctx['knn_images'])
    sim_h = h(PAPER_IT['simsiam'] * ctx['simsiam_s']) + knn_h
    ssl = {k: h(PAPER_IT[k] * ctx['ssl_s']) for k in ('T', 'as3l_ssl', 'flexmatch')}
    as3l_h = sim_h + h(ctx.get('stages23_s', 0.)) + ssl['as3l_ssl']
    return {'simsiam_h': sim_h, 'knn_monitor_h': knn_h, 'stages23_h': h(ctx.get('stages23_s', 0.)), 'ssl_to_T_h': ssl['T'],
            'ssl_112k_h': ssl['as3l_ssl'], 'as3l_h': as3l_h, 'flexmatch_1M_h': ssl['flexmatch'],
            'paper_as3l_h': PAPER_H['as3l'], 'paper_flexmatch_h': PAPER_H['flexmatch'],
            'speedup': ssl['flexmatch'] / as3l_h, 'paper_speedup': PAPER_H['flexmatch'] / PAPER_H['as3l']}


def projection_section(ctx:dict, quick:bool):
    if 'simsiam_s' not in ctx or 'ssl_s' not in ctx: return 'SKIPPED', {'reason': 'simsiam or flexmatch section failed'}
    p = ctx['projection'] = projection(ctx)
    f = {k: f"{v:.2f}" for k, v in p.items()}
    f['iterations'] = f"SimSiam {PAPER_IT['simsiam']} + FlexMatch {PAPER_IT['as3l_ssl']} (T {PAPER_IT['T']}) vs FlexMatch {PAPER_IT['flexmatch']}"
    if quick: f['note'] = 'quick: small models and batches, not the paper scale'
    return 'OK', f


# ---------------- main ----------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--device', default='cuda', help="'cuda' (default), 'cuda:1', 'cpu', 'auto'")
    ap.add_argument('--quick', action='store_true', help='tiny step counts, small models and batches (CPU: < 1 minute)')
    ap.add_argument('--simsiam-steps', type=int, default=None, help='default 200 (quick: 3)')
    ap.add_argument('--ssl-steps', type=int, default=None, help='default 300 (quick: 3)')
    ap.add_argument('--features', default=None, help='N,d of the stage 2-3 features; default 50000,512 (quick: 1000,16)')
    ap.add_argument('--no-save', action='store_true', help='do not write bench/results/gpu_check*.json (tests)')
    a = ap.parse_args(argv)
    from as3l.core import get_device
    device = get_device(a.device)
    q = a.quick
    sim_steps, ssl_steps = a.simsiam_steps or (3 if q else 200), a.ssl_steps or (3 if q else 300)
    n, d = map(int, (a.features or ('1000,16' if q else '50000,512')).split(','))
    print(machine_line())
    t0 = time.perf_counter()
    train, test, src = load_images(q)
    sim_cfg, ssl_cfg = configs(q)
    ctx, report = {'arch': sim_cfg.arch}, {}
    run_section('env', lambda: env_section(device, src), report)
    run_section('simsiam', lambda: simsiam_section(train, test, sim_cfg, device, sim_steps, ctx), report)
    if 'simsiam' in ctx: ctx['simsiam_state'] = {k: v.detach().cpu().clone() for k, v in ctx.pop('simsiam').state_dict().items()}
    else:   # the SSL sections still run, from a fresh SimSiam
        from as3l.simsiam import build_simsiam
        ctx['simsiam_state'] = build_simsiam(sim_cfg, train.num_classes, train.image_shape[0]).state_dict()
    ctx['ssl_inputs'] = _ssl_inputs(train, ssl_cfg.seed)
    run_section('stages23', lambda: stages23_section(device, n, d, 2 if q else 40, ctx), report)
    run_section('flexmatch', lambda: flexmatch_section(train, test, ssl_cfg, device, ssl_steps, ctx), report)
    run_section('throughput', lambda: throughput_section(train, sim_cfg, ssl_cfg, device, ctx, 2 if q else 10), report)
    run_section('projection', lambda: projection_section(ctx, q), report)
    wall = time.perf_counter() - t0
    fails = [k for k, v in report.items() if v['status'] == 'FAIL']
    n_ok = sum(v['status'] == 'OK' for v in report.values())
    if not a.no_save: save_result('gpu_check' + ('_quick' if q else ''), {'report': report, 'quick': q, 'device': str(device), 'wall_s': wall})
    p = ctx.get('projection')
    proj = (f"projected paper AS3L {p['as3l_h']:.1f} h, FlexMatch 1024x1024 {p['flexmatch_1M_h']:.1f} h "
            f"(paper, RTX 3090: {PAPER_H['as3l']} h vs {PAPER_H['flexmatch']} h)" if p else 'no projection')
    skipped = [f"{k} skipped" for k, v in report.items() if v['status'] == 'SKIPPED']
    print("# resume of a killed run and 2-rank DDP (NCCL): pytest -m cuda tests/test_gpu.py", flush=True)
    met = not fails and (device.type != 'cuda' or q or wall <= GOAL_S)
    headline('gpu_check', f"{n_ok}/{len(report)} sections OK on {device}{' (quick)' if q else ''}"
             f"{', FAIL: ' + ','.join(fails) if fails else ''}{', ' + ', '.join(skipped) if skipped else ''}, "
             f"{wall:.0f} s; {proj} "
             f"(goal: every section OK, <= {GOAL_S} s on one GPU)", met)
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
