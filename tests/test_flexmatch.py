"Stage 4 (as3l.flexmatch, the loop in as3l.ssl_loop): thresholds, mask and posterior by hand, exact resume, bad input."
import math, warnings
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from as3l.core import set_seed
from as3l.testing import TinyNet
import as3l.flexmatch as fm
from as3l.flexmatch import (SSLConfig, FlexMatchMemory, flexmatch_thresholds, learning_effect, posterior,
                            supervised_loss, unlabeled_loss, init_from_simsiam)
from as3l.ssl_loop import train_ssl
from as3l.training import embed


# ---------- small functions, by hand ----------
def test_thresholds_by_hand():
    mem = torch.tensor([0, 0, 0, 0, 1, 1, 2, -1, -1, -1])
    sigma, unused = learning_effect(mem, 3)
    assert sigma.tolist() == [4, 2, 1] and int(unused) == 3
    thr = flexmatch_thresholds(sigma, unused, tau=0.95)               # beta = (1, .5, .25), M(x) = x/(2-x)
    assert torch.allclose(thr, torch.tensor([0.95, 0.95 / 3, 0.95 / 7]))
    thr = flexmatch_thresholds(torch.tensor([2, 1, 0]), 7, tau=0.9)   # warm-up: unused (7) is the normaliser
    b = torch.tensor([2 / 7, 1 / 7, 0.])
    assert torch.allclose(thr, 0.9 * b / (2 - b))
    assert torch.allclose(flexmatch_thresholds(torch.tensor([2, 1, 0]), 7, tau=0.9, warmup=False, mapping='linear'),
                          torch.tensor([0.9, 0.45, 0.]))
    assert flexmatch_thresholds(torch.zeros(4, dtype=torch.long), 10).tolist() == [0.] * 4
    with pytest.raises(ValueError, match="'convex' or 'linear'"): flexmatch_thresholds(sigma, unused, mapping='x')


def test_mask_uses_posterior_max_and_argmax():
    thr = torch.tensor([0.9, 0.3, 0.1])
    post = torch.tensor([[0.95, 0.05, 0.], [0.8, 0.2, 0.], [0.2, 0.35, 0.45], [0.4, 0.5, 0.1]])
    logits = torch.randn(4, 3)
    loss, mask, conf, pl = unlabeled_loss(logits, post, thr)
    assert pl.tolist() == [0, 0, 2, 1] and mask.tolist() == [1., 0., 1., 1.]
    ce = F.cross_entropy(logits, pl, reduction='none')
    assert torch.allclose(loss, (ce * mask).sum() / 4)                 # mean over all mu*B, Eq. 4
    # prior flips the predicted class -> judged against the other class's threshold
    p_weak, prior = torch.tensor([[0.6, 0.4, 0.]]), torch.tensor([[0., 1., 0.]])
    post = posterior(prior, p_weak, step=0, T=5)
    assert torch.allclose(post, torch.tensor([[0.3, 0.7, 0.]]))
    assert unlabeled_loss(torch.zeros(1, 3), post, thr)[1].item() == 1.     # 0.7 > tau_1 = 0.3
    assert unlabeled_loss(torch.zeros(1, 3), p_weak, thr)[1].item() == 0.   # 0.6 < tau_0 = 0.9


def test_posterior_switch():
    prior, p = torch.tensor([[0.5, 0.5, 0.]]), torch.tensor([[0., 0., 1.]])
    assert torch.allclose(posterior(prior, p, 6900, 6900), torch.tensor([[0.25, 0.25, 0.5]]))
    assert torch.equal(posterior(prior, p, 6901, 6900, 'remove'), p)
    assert torch.allclose(posterior(prior, p, 6901, 6900, 'update'), torch.tensor([[0.25, 0.25, 0.5]]))
    assert torch.equal(posterior(None, p, 0, 6900), p)


def test_memory_and_losses():
    m = FlexMatchMemory(5, 2)
    m.update(torch.tensor([0, 1, 2, 1]), torch.tensor([1, 0, 1, 1]), torch.tensor([True, True, False, True]))
    assert m.labels.tolist() == [1, 1, -1, -1, -1]
    m2 = FlexMatchMemory(5, 2); m2.load_state_dict(m.state_dict()); assert torch.equal(m2.labels, m.labels)
    assert math.isclose(supervised_loss(torch.zeros(2, 4), torch.tensor([0, 3])).item(), math.log(4), rel_tol=1e-6)


def test_init_from_simsiam():
    src, dst = TinyNet(5), TinyNet(3)
    sd = {f'encoder.{k}': v for k, v in src.state_dict().items()}
    sd['projector.0.weight'] = torch.zeros(2, 2)
    rep = init_from_simsiam(dst, sd)
    assert 'classifier.weight' not in rep['copied'] and 'body.0.weight' in rep['copied']
    assert torch.equal(dst.body[0].weight, src.body[0].weight)
    assert 'projector.0.weight' in rep['unused']


# ---------- training: exact resume ----------
def _tiny_data(n=96):
    from as3l.data import load_dataset
    train, test = load_dataset('digits')
    return train.subset(np.arange(n)), test.subset(np.arange(60))


@pytest.fixture(scope='module')
def tiny():
    torch.set_num_threads(1)    # the test machine is shared; thread oversubscription makes CPU runs 10-20x slower
    train, test = _tiny_data()
    y = train.y.numpy()
    idx = np.array([np.flatnonzero(y == c)[0] for c in range(train.num_classes)])
    rng = np.random.default_rng(0)
    prior = rng.dirichlet(np.ones(train.num_classes), size=len(train)).astype(np.float32)
    return train, test, idx, y[idx], prior


def _recluster(model, data, li, ly, update):
    "A cheap deterministic stand-in for stage 3: softmax over cosine similarity to labelled samples' features."
    f = torch.from_numpy(embed(model, data, device='cpu'))
    C = data.num_classes
    cent = torch.stack([f[li[ly == c]].mean(0) for c in range(C)])
    return torch.softmax(10 * f @ cent.T, 1).numpy()


CFG = dict(iterations=8, T=3, prior_mode='update', update_every=2, batch_size=4, mu=2, ema=0.9)


def _run(tiny, run_dir, **kw):
    train, test, idx, ly, prior = tiny
    set_seed(0)
    model = TinyNet(train.num_classes, train.x.shape[1])
    cfg = SSLConfig.from_preset('smoke', **CFG)
    res = train_ssl(model, train, test, idx, ly, prior=prior, cfg=cfg, run_dir=run_dir, device='cpu',
                    eval_every=2, log_every=1, ckpt_every=3, recluster=_recluster, **kw)
    return model, res


def _same(a, b):
    (ma, ra), (mb, rb) = a, b
    for k, v in ma.state_dict().items(): assert torch.equal(v, mb.state_dict()[k]), k
    for k, v in ra['ema_model'].state_dict().items(): assert torch.equal(v, rb['ema_model'].state_dict()[k]), k
    strip = lambda r: {k: v for k, v in r.items() if k not in ('sec_per_iter', 'ema_model')}
    assert strip(ra) == strip(rb)


def test_resume_is_exact(tiny, tmp_path, monkeypatch):
    full = _run(tiny, tmp_path / 'full')
    assert full[1]['step'] == 8 and len(full[1]['history']['eval']) == 4 and len(full[1]['history']['train']) == 8
    # stopped by max_steps, then resumed
    _run(tiny, tmp_path / 'stop', max_steps=5)
    _same(_run(tiny, tmp_path / 'stop', resume=True), full)
    # killed by an exception at step 7 (last checkpoint: step 6), then resumed
    calls, orig = {'n': 0}, fm.strong_augment
    def boom(*a, **k):
        calls['n'] += 1
        if calls['n'] == 7: raise KeyboardInterrupt('simulated kill')
        return orig(*a, **k)
    monkeypatch.setattr(fm, 'strong_augment', boom)
    with pytest.raises(KeyboardInterrupt): _run(tiny, tmp_path / 'kill')
    monkeypatch.setattr(fm, 'strong_augment', orig)
    _same(_run(tiny, tmp_path / 'kill', resume=True), full)


def test_resume_with_other_config_fails(tiny, tmp_path):
    train, test, idx, ly, prior = tiny
    cfg = SSLConfig.from_preset('smoke', iterations=2, batch_size=4, mu=1)
    train_ssl(TinyNet(train.num_classes), train, None, idx, ly, cfg=cfg, run_dir=tmp_path, device='cpu')
    with pytest.raises(ValueError, match=r"different config \(differs in \['lr'\]\)"):
        train_ssl(TinyNet(train.num_classes), train, None, idx, ly, cfg=cfg.replace(lr=0.1), run_dir=tmp_path,
                  device='cpu', resume=True)


# ---------- bad input ----------
def test_bad_input(tiny):
    train, test, idx, ly, prior = tiny
    cfg = SSLConfig.from_preset('smoke', iterations=1, batch_size=2, mu=1)
    go = lambda **kw: train_ssl(TinyNet(train.num_classes), train, None, **{**dict(labeled_idx=idx, labeled_y=ly,
                                                                                 cfg=cfg, device='cpu'), **kw})
    with pytest.raises(ValueError, match='no labelled samples'): go(labeled_idx=[], labeled_y=[])
    with pytest.raises(ValueError, match=r'must be \(N, C\)'): go(prior=prior[:10])
    with pytest.raises(ValueError, match='sum to 1'): go(prior=prior * 2)
    with pytest.warns(UserWarning, match='lower T or raise iterations'): go(prior=prior)   # T=6 > iterations=1
    with pytest.warns(UserWarning, match=r'classes \[9\] have no labelled sample'):
        go(labeled_idx=idx[:9], labeled_y=ly[:9], cfg=cfg.replace(T=0))
    with pytest.raises(ValueError, match='num_classes=10'):
        train_ssl(TinyNet(3), train, None, idx, ly, cfg=cfg, device='cpu')
    with pytest.raises(ValueError, match='prior_mode must be one of'): SSLConfig.from_preset('smoke', prior_mode='never')
    with pytest.raises(ValueError, match=r"prior_mode='update' needs recluster="):          # the caller re-clusters
        go(prior=prior, cfg=cfg.replace(prior_mode='update', T=0))
    go(cfg=cfg.replace(prior_mode='update'))                   # without a prior there is nothing to re-cluster
