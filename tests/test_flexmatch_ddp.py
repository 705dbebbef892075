"DDP for stage 4: `torchrun --nproc_per_node 2 tests/ssl_ddp_worker.py` (`train_ssl` on every rank) on CPU (gloo); both ranks must end identical."
import os, subprocess, sys
from pathlib import Path
import pytest
import torch

WORKER = str(Path(__file__).with_name('ssl_ddp_worker.py'))


def test_two_cpu_ranks_agree(tmp_path):
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'CI': '1'}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
           WORKER, '--dataset', 'digits', '--model', 'cnn_small', '--preset', 'smoke',
           '--max-steps', '4', '--eval-every', '2', '--device', 'cpu', '--run-dir', str(tmp_path),
           '--set', 'batch_size=8', 'mu=2', 'tau=0.15']     # low tau: the FlexMatch memory fills within 4 steps
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-3000:]
    a, b = [torch.load(tmp_path / f'rank{r}_state.pt', weights_only=True) for r in (0, 1)]
    for part in ('model', 'ema'):
        for k, v in a[part].items(): assert torch.equal(v, b[part][k]), (part, k)
    assert torch.equal(a['thresholds'], b['thresholds'])
    assert a['thresholds'].max() > 0                       # some samples were selected: thresholds moved off 0
    assert (tmp_path / 'checkpoint.pt').exists() and (tmp_path / 'metrics.json').exists()
    assert '"world_size": 2' in p.stdout


def test_two_cpu_ranks_agree_with_a_pretrained_backbone(tmp_path):
    "The same under torchrun with `torchvision:resnet18` from a local weights file, grey digits seen as RGB, the whole network trained."
    from torchvision.models import resnet18
    torch.manual_seed(0)
    torch.save(resnet18().state_dict(), tmp_path / 'r18.pt')
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'CI': '1'}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
           WORKER, '--dataset', 'digits', '--backbone', 'torchvision:resnet18',
           '--weights', str(tmp_path / 'r18.pt'), '--train-size', '16', '--preset', 'smoke', '--max-steps', '2',
           '--device', 'cpu', '--run-dir', str(tmp_path / 'run'), '--set', 'batch_size=4', 'mu=2']
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-3000:]
    a, b = [torch.load(tmp_path / 'run' / f'rank{r}_state.pt', weights_only=True) for r in (0, 1)]
    for k, v in a['model'].items(): assert torch.equal(v, b['model'][k]), k
    start = torch.load(tmp_path / 'r18.pt', weights_only=True)['layer1.0.conv1.weight']
    assert not torch.equal(a['model']['encoder.layer1.0.conv1.weight'], start)   # the backbone was fine-tuned
