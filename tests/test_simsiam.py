"""Stage 1 (SimSiam): loss values, kNN monitor, feature extraction, a short training run, checkpoint."""
import numpy as np
import pytest
import torch

from as3l.core import load_checkpoint, load_json
from as3l.models import SimSiam, build_model
from as3l.simsiam import (SimSiamConfig, build_simsiam, extract_features, knn_accuracy, knn_predict, simsiam_loss,
                          train_simsiam)
from as3l.testing import make_blobs


@pytest.fixture(scope="module")
def digits():
    from as3l.data import load_dataset
    train, test = load_dataset("digits")
    return train, test


def test_loss_values():
    z = torch.randn(16, 8)
    assert torch.isclose(simsiam_loss(z, z, z, z), torch.tensor(-1.0), atol=1e-6)
    assert torch.isclose(simsiam_loss(-z, -z, z, z), torch.tensor(1.0), atol=1e-6)
    # orthogonal prediction and target -> 0
    p = torch.tensor([[1.0, 0.0]]); q = torch.tensor([[0.0, 1.0]])
    assert torch.isclose(simsiam_loss(p, p, q, q), torch.tensor(0.0), atol=1e-6)
    # symmetric: p1 is compared with z2, p2 with z1
    a, b = torch.randn(4, 8), torch.randn(4, 8)
    assert torch.isclose(simsiam_loss(a, b, b, a), torch.tensor(-1.0), atol=1e-6)


def test_loss_stops_gradient():
    p = torch.randn(4, 8, requires_grad=True)
    z = torch.randn(4, 8, requires_grad=True)
    simsiam_loss(p, p, z, z).backward()
    assert p.grad is not None and z.grad is None


def test_knn_blobs_and_chance():
    x, y = make_blobs(n=900, k=6, d=16, spread=0.3, seed=0)   # one draw: same blob centres for bank and queries
    perm = np.random.default_rng(1).permutation(len(x))
    xb, yb, xq, yq = x[perm[:600]], y[perm[:600]], x[perm[600:]], y[perm[600:]]
    assert knn_accuracy(xb, yb, xq, yq, k=20, t=0.1) > 0.98
    assert knn_accuracy(xb, yb, xq, yq, k=200, t=0.1) > 0.98
    rng = np.random.default_rng(0)
    assert knn_accuracy(xb, rng.permutation(yb), xq, yq) < 0.4
    # blocked == unblocked, torch == numpy, unknown bank labels ignored
    s1 = knn_predict(xb, yb, xq, k=10, block=13)
    s2 = knn_predict(torch.from_numpy(xb), torch.from_numpy(yb), torch.from_numpy(xq), k=10)
    assert torch.allclose(s1, s2, atol=1e-5)
    y_missing = yb.copy(); y_missing[::2] = -1
    assert knn_accuracy(xb, y_missing, xq, yq) > 0.95
    with pytest.raises(ValueError, match="unknown labels"):
        knn_accuracy(xb, yb, xq, np.full(len(xq), -1))
    with pytest.raises(ValueError, match="no known label"):
        knn_predict(xb, np.full(len(xb), -1), xq)


def test_config_presets():
    paper = SimSiamConfig.from_preset("paper")
    assert paper.batch_size == 512 and paper.epochs == 800 and abs(paper.lr - 0.06) < 1e-12
    assert paper.momentum == 0.9 and paper.weight_decay == 5e-4 and paper.arch == "wrn28_2"
    assert paper.proj_dim == 2048 and paper.pred_dim == 512 and paper.proj_layers == 2 and paper.knn_k == 200
    with pytest.raises(ValueError, match="unknown SimSiamConfig option"):
        SimSiamConfig.from_preset("smoke", learning_rate=1)
    assert SimSiamConfig.from_dict(paper.to_dict()) == paper


def test_extract_features_normalised_deterministic(digits):
    train, _ = digits
    sub = train.subset(np.arange(50))
    enc = build_model("cnn_small", train.num_classes, train.image_shape[0])
    f1 = extract_features(enc, sub, batch_size=16, device="cpu")
    f2 = extract_features(SimSiam(enc, 32, 8), sub, batch_size=50, device="cpu")
    assert f1.dtype == np.float32 and f1.shape == (50, enc.feat_dim)
    np.testing.assert_allclose(np.linalg.norm(f1, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(f1, f2, atol=1e-5)
    assert enc.training


def test_train_few_steps_and_checkpoint(digits, tmp_path):
    train, test = digits
    cfg = SimSiamConfig.from_preset("smoke", batch_size=64, epochs=3, base_lr=0.1)
    sub = train.subset(np.arange(320))
    model = build_simsiam(cfg, train.num_classes, train.image_shape[0])
    before = [p.detach().clone() for p in model.encoder.parameters()]
    hist = train_simsiam(model, sub, cfg, device="cpu", max_steps=12, monitor=test.subset(np.arange(100)),
                         run_dir=tmp_path)
    assert hist["steps"] == 12 and len(hist["loss"]) == 12 and np.isfinite(hist["loss"]).all()
    assert all(-1 <= l <= 1 for l in hist["loss"])
    assert np.mean(hist["loss"][-4:]) < np.mean(hist["loss"][:4])      # the loss goes down
    assert hist["lr"][0] == pytest.approx(cfg.lr) and hist["lr"][-1] < hist["lr"][0]
    assert len(hist["knn"]) == 1 and 0 <= hist["knn"][0] <= 1
    assert any(not torch.equal(a, b) for a, b in zip(before, model.encoder.parameters()))
    ck = load_checkpoint(tmp_path / "simsiam.pt")
    assert ck["step"] == 12 and ck["config"] == cfg.to_dict()
    fresh = build_model(cfg.arch, train.num_classes, train.image_shape[0]); fresh.load_state_dict(ck["encoder"])
    np.testing.assert_allclose(extract_features(fresh, test, device="cpu"), extract_features(model, test, device="cpu"),
                               atol=1e-5)
    assert load_json(tmp_path / "simsiam_history.json")["steps"] == 12


def test_train_is_deterministic(digits):
    train, _ = digits
    cfg = SimSiamConfig.from_preset("smoke")
    sub = train.subset(np.arange(128))
    losses = []
    for _ in range(2):
        model = build_simsiam(cfg, train.num_classes, train.image_shape[0])
        losses.append(train_simsiam(model, sub, cfg, device="cpu", max_steps=2)["loss"])
    assert losses[0] == losses[1]


def test_train_bad_inputs(digits):
    train, _ = digits
    cfg = SimSiamConfig.from_preset("smoke")
    with pytest.raises(ValueError, match="SimSiam"):
        train_simsiam(build_model("cnn_small", 10, 1), train, cfg, device="cpu")


def test_killed_simsiam_resumes_to_the_same_weights(digits, tmp_path, monkeypatch):
    "A run killed mid-epoch resumes from its last epoch checkpoint: weights and history equal an uninterrupted run's."
    import as3l.simsiam as S
    from as3l.core import AS3LWarning
    train, test = digits
    small = train.subset(np.arange(256))
    cfg = SimSiamConfig.from_preset("smoke", epochs=4, batch_size=64)          # 4 steps an epoch, 16 steps
    def run(d):
        m = build_simsiam(cfg, 10, 1)
        return m, train_simsiam(m, small, cfg, device="cpu", run_dir=d, monitor=test)
    full, h_full = run(tmp_path / "full")
    real, calls = S.simsiam_loss, [0]
    def dying(*a):
        calls[0] += 1
        if calls[0] == 11: raise KeyboardInterrupt("killed in epoch 3")
        return real(*a)
    monkeypatch.setattr(S, "simsiam_loss", dying)
    with pytest.raises(KeyboardInterrupt): run(tmp_path / "killed")
    monkeypatch.setattr(S, "simsiam_loss", real)
    resume = tmp_path / "killed" / "simsiam_resume.pt"
    assert load_checkpoint(resume)["step"] == 8                                 # the end of epoch 2
    again, h_again = run(tmp_path / "killed")
    assert all(torch.equal(a, b) for a, b in zip(full.state_dict().values(), again.state_dict().values()))
    assert (h_again["loss"], h_again["knn"], h_again["z_std"]) == (h_full["loss"], h_full["knn"], h_full["z_std"])
    assert not resume.exists()                                                   # simsiam.pt holds the result now
    # a damaged resume file: one warning, then a fresh start to the same weights
    resume.write_bytes(b"\x80 truncated")
    with pytest.warns(AS3LWarning, match="simsiam_resume.pt is damaged"): fresh, _ = run(tmp_path / "killed")
    assert all(torch.equal(a, b) for a, b in zip(full.state_dict().values(), fresh.state_dict().values()))


def test_cpu_budget_scales_with_the_data_within_its_bounds():
    "The cpu preset: 40 epochs, at least 3,000 steps (digits, small folders) and at most 6,000 (10k images and more)."
    cpu = SimSiamConfig.from_preset("cpu")
    assert [cpu.total_steps(n) for n in (64, 1437, 2000, 5000, 10000, 60000)] == [3000, 3000, 3000, 3120, 6000, 6000]
    assert SimSiamConfig.from_preset("cpu", epochs=3).total_steps(10000) == 3 * 156       # epochs asked: bounds off
    assert SimSiamConfig.from_preset("cpu", steps=10).total_steps(60000) == 10           # steps asked: that count
    assert SimSiamConfig.from_preset("smoke").total_steps(1437) == 1437 // 64
