"""Backbones and SimSiam heads: interface, shapes, parameter counts, errors."""
import pytest
import torch
from torch import nn

from as3l.models import MODELS, ResNet18, SimSiam, SmallCNN, WideResNet, build_model


def n_params(m): return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name,c,size,nc", [
    ("wrn28_2", 3, 32, 10), ("wrn37_2", 3, 96, 10), ("resnet18", 3, 32, 7),
    ("cnn_small", 1, 8, 10), ("cnn", 1, 28, 10), ("cnn", 3, 32, 4)])
def test_interface_and_shapes(name, c, size, nc):
    torch.manual_seed(0)
    m = build_model(name, nc, c).eval()
    x = torch.randn(3, c, size, size)
    with torch.no_grad():
        f, out = m.features(x), m(x)
    assert f.shape == (3, m.feat_dim) and out.shape == (3, nc)
    assert isinstance(m.classifier, nn.Linear) and m.classifier.in_features == m.feat_dim
    assert torch.allclose(out, m.classifier(f), atol=1e-5)


def test_param_counts():
    # FixMatch / TorchSSL: WRN-28-2 1.47M (CIFAR-10), WRN-28-8 23.4M (CIFAR-100), WRN-37-2 5.9M (STL-10)
    assert n_params(build_model("wrn28_2", 10)) == 1_467_610
    assert abs(n_params(build_model("wrn28_8", 100)) - 23.4e6) < 0.05e6
    assert abs(n_params(build_model("wrn37_2", 10)) - 5.93e6) < 0.05e6
    assert abs(n_params(build_model("resnet18", 10)) - 11.17e6) < 0.01e6
    assert n_params(build_model("cnn_small", 10, 1)) < 150_000


def test_wrn_settings():
    m = build_model("wrn28_2", 10)
    bns = [mod for mod in m.modules() if isinstance(mod, nn.BatchNorm2d)]
    assert bns and all(b.momentum == 0.001 for b in bns)
    assert all(r.negative_slope == 0.1 for r in m.modules() if isinstance(r, nn.LeakyReLU))
    assert m.feat_dim == 128 and build_model("wrn28_8", 100).feat_dim == 512
    # WRN-37-2 downsamples 96 -> 6 (stride-2 first group) and has a fourth group of width 256
    assert len(build_model("wrn37_2").blocks) == 4 and build_model("wrn37_2").feat_dim == 256


def test_unknown_name_and_bad_depth():
    with pytest.raises(ValueError, match="unknown model 'wrn99'"):
        build_model("wrn99", 10)
    with pytest.raises(ValueError, match="depth"):
        WideResNet(depth=30)
    with pytest.raises(ValueError, match="num_classes"):
        build_model("cnn", 0)
    assert set(MODELS) >= {"wrn28_2", "wrn28_8", "wrn37_2", "resnet18", "cnn_small", "cnn"}


def test_channels_last_same_output():
    torch.manual_seed(0)
    m = build_model("cnn", 10, 3).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = m(x)
        out = m.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(out, ref, atol=1e-4)


def test_simsiam_heads():
    torch.manual_seed(0)
    ss = SimSiam(build_model("cnn_small", 10, 1), proj_dim=64, pred_dim=16)
    x1, x2 = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    p1, p2, z1, z2 = ss(x1, x2)
    assert p1.shape == p2.shape == z1.shape == z2.shape == (4, 64)
    assert p1.requires_grad and not z1.requires_grad and not z2.requires_grad
    # projector: 3 linear layers, BN after each, last BN without affine; predictor bottleneck 64 -> 16 -> 64
    lin = [m for m in ss.projector if isinstance(m, nn.Linear)]
    assert len(lin) == 3 and not ss.projector[-1].affine
    assert ss.predictor[0].out_features == 16 and ss.predictor[-1].out_features == 64
    # gradients reach the encoder through p
    (p1.sum() + p2.sum()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in ss.encoder.parameters())
    with pytest.raises(ValueError, match="features"):
        SimSiam(nn.Linear(3, 3))
