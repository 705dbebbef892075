"""Stage 4 on CUDA (marked `cuda`, deselected in CI; run with `pytest -m cuda tests/test_gpu.py` on a GPU machine):

- resume: a stage-4 run killed with SIGKILL after its first checkpoint, then resumed, ends bit for bit where the
  uninterrupted run ends (model, EMA, FlexMatch thresholds, evaluation history), under deterministic kernels, AMP and
  channels-last (the `paper` preset's flags) on one GPU;
- ddp: two CUDA ranks under `torch.distributed.run` (NCCL) end identical (skipped with fewer than 2 GPUs).

Each run is a fresh process running this file as a script (`_worker`), so CUBLAS_WORKSPACE_CONFIG is read at cuBLAS
start-up and a kill ends only that run. The CPU versions of both checks: tests/test_flexmatch.py (kill and resume)
and tests/test_flexmatch_ddp.py (gloo ranks). These replace the `resume` and `ddp` sections of bench/gpu_check.py."""
import argparse, os, signal, subprocess, sys, warnings
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
N = 6   # steps between checkpoints; the runs are 2N steps


def _worker(argv=None):
    "One stage-4 run on digits (cnn_small, 4 labels/class, a Dirichlet prior so Eq. 5 is on); writes rank<r>.pt to --out."
    ap = argparse.ArgumentParser()
    ap.add_argument('--out'); ap.add_argument('--run-dir'); ap.add_argument('--steps', type=int)
    ap.add_argument('--ckpt-every', type=int); ap.add_argument('--kill-at', type=int, default=0)
    ap.add_argument('--resume', action='store_true'); ap.add_argument('--device', default='cuda')
    a = ap.parse_args(argv)
    import numpy as np
    from as3l.core import set_seed
    from as3l.data import load_dataset
    from as3l.flexmatch import SSLConfig
    from as3l.models import build_model
    from as3l.ssl_loop import init_distributed, train_ssl
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    device = init_distributed(torch.device(a.device))
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    cfg = SSLConfig.from_preset('paper', batch_size=8, mu=2, eval_batch_size=256, tau=0.15)   # AMP, channels-last, EMA
    train, test = load_dataset('digits')
    y, rng = train.y.numpy(), np.random.default_rng(0)
    idx = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:4] for c in range(train.num_classes)]))
    prior = rng.dirichlet(np.ones(train.num_classes), len(y)).astype(np.float32)
    set_seed(cfg.seed)   # the same initial weights on every rank and in every run
    model = build_model('cnn_small', train.num_classes, in_channels=train.image_shape[0])
    if a.kill_at:        # kill -9 inside training step `kill_at` (the EMA model is evaluated in eval mode: not counted)
        calls = [0]
        def kill(module, inputs, output):
            if module.training:
                calls[0] += 1
                if calls[0] == a.kill_at: os.kill(os.getpid(), signal.SIGKILL)
        model.register_forward_hook(kill)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        res = train_ssl(model, train, test.subset(np.arange(120)), idx, y[idx], prior=prior, cfg=cfg, run_dir=a.run_dir,
                        device=device, resume=a.resume, max_steps=a.steps, eval_every=a.ckpt_every,
                        ckpt_every=a.ckpt_every, log_every=a.ckpt_every)
    nondet = sorted({str(w.message).split(' does not have')[0] for w in caught if 'deterministic' in str(w.message)})
    torch.save({'model': {k: v.cpu() for k, v in model.state_dict().items()},
                'ema': {k: v.cpu() for k, v in res['ema_model'].state_dict().items()},
                'thresholds': torch.tensor(res['thresholds']), 'step': res['step'], 'world_size': res['world_size'],
                'evals': [(e['step'], e['acc']) for e in res['history']['eval']], 'nondeterministic': nondet},
               Path(a.out) / f'rank{rank}.pt')
    if torch.distributed.is_initialized(): torch.distributed.destroy_process_group()


def _env() -> dict:
    return {**os.environ, 'CI': '1', 'OMP_NUM_THREADS': '1', 'CUBLAS_WORKSPACE_CONFIG': ':4096:8',
            'PYTHONPATH': os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get('PYTHONPATH')] if p])}


def _run(out:Path, run_dir:Path, *extra, ranks:int=1) -> subprocess.CompletedProcess:
    "This file as a worker: one process, or `ranks` processes under torch.distributed.run."
    out.mkdir(parents=True, exist_ok=True)
    launch = ([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(ranks)]
              if ranks > 1 else [sys.executable])
    cmd = [*launch, __file__, '--out', str(out), '--run-dir', str(run_dir), '--steps', str(2 * N), '--ckpt-every', str(N), *extra]
    return subprocess.run(cmd, env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=600)


def _load(path:Path) -> dict: return torch.load(path, weights_only=True)


def _differing(a:dict, b:dict) -> list[str]:
    "Names of the tensors of two state dicts that are not bitwise equal."
    return [k for k, v in a.items() if not torch.equal(v, b[k])]


def _same_run(a:dict, b:dict, what:str) -> None:
    "Bitwise the same end state; a difference names the tensors and the ops torch has no deterministic kernel for."
    why = f"(ops without a deterministic kernel: {sorted(set(a['nondeterministic']) | set(b['nondeterministic'])) or 'none'})"
    assert a['step'] == b['step'] == 2 * N, (a['step'], b['step'])
    assert not _differing(a['model'], b['model']), (what, 'model', _differing(a['model'], b['model']), why)
    assert not _differing(a['ema'], b['ema']), (what, 'ema', _differing(a['ema'], b['ema']), why)
    assert torch.equal(a['thresholds'], b['thresholds']), (what, 'thresholds', why)
    assert a['evals'] == b['evals'], (what, a['evals'], b['evals'], why)


@pytest.mark.cuda
def test_killed_run_resumed_equals_uninterrupted_on_cuda(tmp_path):
    if not torch.cuda.is_available(): pytest.skip('needs a CUDA GPU')
    p = _run(tmp_path / 'straight', tmp_path / 'straight_run')
    assert p.returncode == 0, p.stderr[-3000:]
    p = _run(tmp_path / 'killed', tmp_path / 'killed_run', '--kill-at', str(N + N // 2 + 1))   # after the step-N checkpoint
    assert p.returncode == -signal.SIGKILL, (p.returncode, p.stderr[-3000:])
    assert (tmp_path / 'killed_run' / 'checkpoint.pt').exists() and not (tmp_path / 'killed' / 'rank0.pt').exists()
    p = _run(tmp_path / 'killed', tmp_path / 'killed_run', '--resume')
    assert p.returncode == 0, p.stderr[-3000:]
    _same_run(_load(tmp_path / 'killed' / 'rank0.pt'), _load(tmp_path / 'straight' / 'rank0.pt'), 'resumed vs uninterrupted')


@pytest.mark.cuda
def test_two_cuda_ranks_end_identical(tmp_path):
    if torch.cuda.device_count() < 2: pytest.skip(f'{torch.cuda.device_count()} CUDA GPU(s): NCCL needs one per rank (2)')
    p = _run(tmp_path / 'out', tmp_path / 'run', ranks=2)
    assert p.returncode == 0, p.stderr[-3000:]
    r0, r1 = _load(tmp_path / 'out' / 'rank0.pt'), _load(tmp_path / 'out' / 'rank1.pt')
    assert r0['world_size'] == r1['world_size'] == 2
    _same_run(r0, r1, 'rank 0 vs rank 1')
    assert r0['thresholds'].max() > 0   # some samples were selected: the shared FlexMatch memory moved


if __name__ == '__main__':
    _worker()
