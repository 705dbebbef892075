"""Stage 4's numbers are pinned: the readable `train_ssl` (issue 19) computes what the single 189-line loop computed.

Recorded with the loop before the change (commit 6df88ec) on one thread. On the numeric path they were recorded on
(same torch/faiss/numpy, CPU kernels and instruction-set flags) every float and the EMA weights must be identical;
elsewhere floats differ between kernels (an AVX2 or SSE4.1 machine; measured: first losses agree to 1e-3, accuracies
within 0.03), so the runs are held to tolerances instead."""
import functools, hashlib, json, os, platform
import numpy as np
import pytest
import torch

from as3l.core import set_seed
from as3l.data import load_dataset
from as3l.flexmatch import SSLConfig
from as3l.ssl_loop import train_ssl
from as3l.stages import recluster_prior   # the pipeline's re-clustering for prior_mode='update'
from as3l.models import build_model
from as3l.pipeline import AS3LConfig, run_as3l

RECORDED_ON = 'x86_64|2.14.1+cu130|1.15.1|2.4.6|AVX512|avx2,avx512_bf16,avx512_vnni,avx512f,avx_vnni||||'
PINNED = {
 "pipeline": {
  "class_coverage": 8,
  "prior_acc": 0.6657323055360898,
  "prior_ece": 0.33158140555911747,
  "best_acc": 0.30833333333333335,
  "last_acc": 0.29444444444444445,
  "model": "997d2bdbb446ccb4"
 },
 "flexmatch_update": {
  "best_acc": 0.28888888888888886,
  "last_acc": 0.28888888888888886,
  "prior_acc": 0.49269309639930725,
  "thresholds": [
   0.0,
   0.0,
   0.0003308951563667506,
   0.0,
   0.0,
   0.0,
   0.0,
   0.0,
   0.0,
   0.0
  ],
  "loss": [
   4.374313449859619,
   3.253426122665405,
   2.3790897846221926,
   1.8073023557662964
  ],
  "eval": [
   0.10277777777777777,
   0.1,
   0.21666666666666667,
   0.28888888888888886
  ],
  "ema": "8fc0d86570ac802f"
 },
 "fixmatch_remove": {
  "best_acc": 0.16111111111111112,
  "last_acc": 0.16111111111111112,
  "prior_acc": 0.6666666865348816,
  "thresholds": [
   0.5,
   0.5,
   0.5,
   0.5,
   0.5,
   0.5,
   0.5,
   0.5,
   0.5,
   0.5
  ],
  "loss": [
   1.921975040435791,
   1.1295997858047486,
   0.9435068011283875,
   0.7070627212524414
  ],
  "eval": [
   0.10277777777777777,
   0.10277777777777777,
   0.11944444444444445,
   0.16111111111111112
  ],
  "ema": "5d53c39de852459f"
 }
}


def numeric_path() -> str:
    "What decides the floats of a CPU run: library versions, ATen's and oneDNN's kernel choice, the CPU's ISA flags."
    import faiss
    try: flags = set(open('/proc/cpuinfo').read().split())
    except OSError: flags = set()
    isa = sorted(flags & {'avx2', 'avx512f', 'avx512_bf16', 'avx512_vnni', 'avx_vnni', 'amx_tile', 'avx512_fp16'})
    env = [os.environ.get(k, '') for k in ('ONEDNN_MAX_CPU_ISA', 'ATEN_CPU_CAPABILITY', 'MKL_ENABLE_INSTRUCTIONS', 'FAISS_SIMD_LEVEL')]
    return '|'.join([platform.machine(), torch.__version__, faiss.__version__, np.__version__,
                     torch.backends.cpu.get_cpu_capability(), ','.join(isa), *env])


EXACT = numeric_path() == RECORDED_ON


@pytest.fixture
def one_thread():
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def sha(sd) -> str:
    h = hashlib.sha1()
    for k, v in sd.items(): h.update(k.encode()); h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def close(got, want, tol):
    "Exact on the recorded path, else within `tol` (absolute, elementwise for lists)."
    if EXACT: assert got == want
    else: assert np.allclose(got, want, rtol=0, atol=tol), (got, want)


def test_digits_smoke_pipeline(tmp_path, one_thread):
    # the paper's stages 2-3 (Eq. 1 and the seeded k-means prior), as recorded; the smoke preset now skips both
    run_as3l(AS3LConfig.from_preset('smoke', dataset='digits', run_dir=str(tmp_path / 'p'), **AS3LConfig.PAPER_METHOD))
    m, want = json.loads((tmp_path / 'p' / 'metrics.json').read_text()), PINNED['pipeline']
    # another path changes SimSiam's features, hence the selection: only the coverage and accuracies' range carry over
    if not EXACT: assert abs(m['class_coverage'] - want['class_coverage']) <= 2
    # stage 4's own prior is pinned: `prior_ece` now reports the calibrated prior, `prior_ece_paper` the one stage 4 uses
    got = {**m, 'prior_ece': m['prior_ece_paper']}
    for k in ('prior_acc', 'prior_ece', 'best_acc', 'last_acc'): close(got[k], want[k], 0.2)
    if EXACT: assert sha(torch.load(tmp_path / 'p' / 'model.pt', weights_only=True)['model']) == want['model']


def digits_prior(y):
    "A fixed prior, 2/3 right: made from the labels by integer rules, so it is the same on every machine."
    prior = np.full((len(y), 10), 0.05)
    prior[np.arange(len(y)), (y + (np.arange(len(y)) % 3 == 0)) % 10] += 0.5
    return prior / prior.sum(1, keepdims=True)


@pytest.mark.parametrize('name,kw', [('flexmatch_update', dict(prior_mode='update', T=8, update_every=5)),
                                     ('fixmatch_remove', dict(algorithm='fixmatch', tau=0.5, T=8))])
def test_stage4_runs(name, kw, tmp_path, one_thread):
    train, test = load_dataset('digits')
    y, idx = train.y.numpy(), np.arange(0, 300, 30)
    set_seed(0); model = build_model('cnn_small', 10, in_channels=1)
    res = train_ssl(model, train, test, idx, y[idx], prior=digits_prior(y), cfg=SSLConfig.from_preset('smoke', iterations=20, **kw),
                    device='cpu', eval_every=5, log_every=5, run_dir=tmp_path,
                    recluster=functools.partial(recluster_prior, device='cpu'))
    want = PINNED[name]
    loss, acc = [r['loss'] for r in res['history']['train']], [r['acc'] for r in res['history']['eval']]
    close(loss[0], want['loss'][0], 1e-3 * want['loss'][0])           # one step from the same weights
    close(loss, want['loss'], 0.1 * max(want['loss']))
    close(acc, want['eval'], 0.06)
    for k in ('best_acc', 'last_acc', 'prior_acc'): close(res[k], want[k], 0.06)
    close(res['thresholds'], want['thresholds'], 0.05)
    if EXACT: assert sha(res['ema_model'].state_dict()) == want['ema']
