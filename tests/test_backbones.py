"Pretrained backbones offline: each kind with random weights, local weights files, offline and bad-input errors, the CLI loop."
import csv
import textwrap
import urllib.error

import numpy as np
import pytest
import torch

from as3l.backbones import PretrainedBackbone, backbone_view, load_backbone, parse_backbone
from as3l.cli import main
from as3l.data import load_dataset
from as3l.pipeline import AS3LConfig, run_as3l
from as3l.predict import load_model, predict

SPEC = "torchvision:resnet18"


@pytest.fixture(scope="module")
def r18_file(tmp_path_factory):
    "Random resnet18 weights saved as a state dict: what `--weights` reads on an offline machine."
    from torchvision.models import resnet18
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pt"
    torch.save(resnet18().state_dict(), path)
    return path


@pytest.fixture
def offline(tmp_path, monkeypatch):
    "No network and an empty weights cache."
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "empty_cache"))
    def no_network(*a, **k): raise urllib.error.URLError("no network")
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)


def _one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("as3l: error:") and "\n" not in err, err
    return err


def test_torchvision_random_weights_interface():
    bb = load_backbone("torchvision:mobilenet_v3_small", num_classes=5, pretrained=False, size=32).eval()
    assert isinstance(bb, PretrainedBackbone) and bb.native_size == 224 and bb.size == 32
    with torch.no_grad():
        f, out = bb.features(torch.randn(2, 3, 20, 20)), bb(torch.randn(2, 3, 20, 20))
    assert f.shape == (2, bb.feat_dim) == (2, 1024)   # the pre-logits layer of its classifier and out.shape == (2, 5)


def test_weights_file_is_loaded_exactly(r18_file):
    from torchvision.models import resnet18
    ref = resnet18(); ref.load_state_dict(torch.load(r18_file, weights_only=True)); ref.fc = torch.nn.Identity()
    bb = load_backbone(SPEC, weights=r18_file, size=32).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad(): assert torch.allclose(bb.features(x), ref.eval()(x), atol=1e-5)


def test_weights_file_errors(tmp_path):
    from torchvision.models import resnet34
    torch.save(resnet34().state_dict(), tmp_path / "r34.pt")
    with pytest.raises(ValueError, match=r"first mismatched key 'layer1\.2\.conv1\.weight'"):
        load_backbone(SPEC, weights=tmp_path / "r34.pt")
    sd = torch.load(tmp_path / "r34.pt", weights_only=True)
    sd["conv1.weight"] = sd["conv1.weight"][:, :1]   # a grey-input stem
    torch.save(sd, tmp_path / "grey.pt")
    with pytest.raises(ValueError, match=r"first mismatched key 'conv1\.weight' \(shape \(64, 1, 7, 7\) in the file"):
        load_backbone("torchvision:resnet34", weights=tmp_path / "grey.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="is not a PyTorch state dict"):
        load_backbone(SPEC, weights=tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="weights file .* not found"):
        load_backbone(SPEC, weights=tmp_path / "missing.pt")


def test_names_and_sizes():
    with pytest.raises(ValueError, match="close matches: resnet18"):
        load_backbone("torchvision:resnet181", pretrained=False)
    with pytest.raises(ValueError, match="torchvision:<name>, hub:<repo>:<entry> or timm:<name>"):
        parse_backbone("resnet18")
    with pytest.raises(ValueError, match="--train-size 224"):   # a ViT takes only its own size
        load_backbone("torchvision:vit_b_16", pretrained=False, size=64)
    with pytest.raises(ValueError, match="set backbone too"):
        AS3LConfig(weights="w.pt")


def test_hub_local_folder(tmp_path):
    (tmp_path / "hubconf.py").write_text(textwrap.dedent("""
        import torch.nn as nn
        dependencies = ['torch']
        def encoder(pretrained=False):
            "DINOv2-like: ends in Identity, returns pooled features"
            return nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Identity())
        def classifier(pretrained=False):
            "an ImageNet-style classifier: its head is replaced"
            return nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 1000))
    """))
    enc = load_backbone(f"hub:{tmp_path}:encoder", num_classes=3)
    assert (enc.feat_dim, enc.size) == (8, 224) and enc(torch.randn(2, 3, 16, 16)).shape == (2, 3)
    cls = load_backbone(f"hub:{tmp_path}:classifier", num_classes=4)
    assert cls.feat_dim == 8 and isinstance(cls.encoder[-1], torch.nn.Identity)
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                   torch.nn.Linear(8, 1000)).state_dict(), tmp_path / "cls.pt")
    assert load_backbone(f"hub:{tmp_path}:classifier", weights=tmp_path / "cls.pt").feat_dim == 8
    with pytest.raises(ValueError, match="close matches: encoder"):
        load_backbone(f"hub:{tmp_path}:encodr")


def test_timm_tiny_model():
    timm = pytest.importorskip("timm", reason="timm is the optional extra as3l[timm]")
    bb = load_backbone("timm:test_vit", num_classes=4, pretrained=False)
    assert bb.feat_dim == timm.create_model("test_vit").num_features and bb(torch.randn(2, 3, 28, 28)).shape == (2, 4)
    with pytest.raises(ValueError, match="unknown timm model"):
        load_backbone("timm:no_such_model_xyz", pretrained=False)


def test_offline_names_both_fixes_and_writes_nothing(photo_folder, tmp_path, offline, capsys):
    d, _ = photo_folder
    run = tmp_path / "run"
    rc = main(["select", "--data", str(d), "--preset", "smoke", "--image-size", "8", "--backbone", SPEC,
               "--run-dir", str(run), "--out", str(tmp_path / "sheet.csv")])
    err = _one_line_error(capsys)
    assert rc == 2 and "--weights PATH" in err and "machine with internet" in err, err
    assert not run.exists() and not (tmp_path / "sheet.csv").exists()


def test_unknown_backbone_on_the_command_line(photo_folder, tmp_path, capsys):
    d, _ = photo_folder
    rc = main(["select", "--data", str(d), "--preset", "smoke", "--image-size", "8", "--backbone", "torchvision:resnet181",
               "--run-dir", str(tmp_path / "run")])
    assert rc == 2 and "close matches: resnet18" in _one_line_error(capsys)


def test_select_train_loop_from_weights_file(photo_folder, tmp_path, r18_file, offline, capsys):
    "The whole own-images loop offline with `torchvision:resnet18` from a file; frozen, the encoder keeps the file's weights."
    d, truth = photo_folder
    run, sheet = tmp_path / "run", tmp_path / "sheet.csv"
    common = ["--data", str(d), "--preset", "smoke", "--image-size", "8", "--backbone", SPEC, "--weights", str(r18_file),
              "--run-dir", str(run)]
    assert main(["select", *common, "--out", str(sheet)]) == 0
    out = capsys.readouterr().out
    assert "backbone features" in out and f"--backbone {SPEC}" in out and "--weights" in out
    rows = list(csv.DictReader(open(sheet, encoding="utf-8")))
    with open(sheet, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f); w.writerow(["path", "label"])
        for r in rows: w.writerow([r["path"], truth[r["path"]]])
    preds = tmp_path / "pred.csv"
    # frozen, by default: stage 4 fits a head on the features stage 1 stored (at the encoder's own size)
    assert main(["train", *common, "--labels", str(sheet), "--out", str(preds), "--freeze-backbone"]) == 0
    got = list(csv.DictReader(open(preds, encoding="utf-8")))
    assert len(got) == len(truth) and {r["predicted"] for r in got} <= set(truth.values())
    model, info = load_model(run / "model.pt", device="cpu")
    assert info["backbone"] == SPEC and info["head"] == "features" and info["size"] == model.native_size
    file_sd = torch.load(r18_file, weights_only=True)
    assert torch.equal(model.encoder.layer4[1].conv2.weight, file_sd["layer4.1.conv2.weight"])
    # the paper's stage 4 through the frozen network, at the size asked for
    assert main(["train", *common, "--labels", str(sheet), "--out", str(preds), "--train-size", "32",
                 "--freeze-backbone", "--set", "stage4=flexmatch"]) == 0
    model, info = load_model(run / "model.pt", device="cpu")
    assert info["backbone"] == SPEC and info["size"] == 32 and isinstance(model, PretrainedBackbone)
    # frozen: the encoder keeps the file's weights (up to the EMA's rounding of d*w + (1-d)*w)
    assert torch.allclose(model.encoder.layer4[1].conv2.weight, file_sd["layer4.1.conv2.weight"], rtol=0, atol=1e-6)
    assert not torch.equal(model.classifier.weight, torch.zeros_like(model.classifier.weight))


def test_grey_images_resume_and_simsiam_from_weights(tmp_path, r18_file):
    "Grey digits through an RGB backbone; SimSiam continued from the file's weights; a second call reuses everything."
    tr, te = load_dataset("digits")
    data = (tr.subset(np.arange(120)), te.subset(np.arange(40)))
    cfg = AS3LConfig.from_preset("smoke", backbone=SPEC, weights=str(r18_file), train_size=16, run_dir=str(tmp_path / "run"),
                                 simsiam={"epochs": 1, "batch_size": 32}, ssl={"iterations": 4, "T": 2})
    res = run_as3l(cfg, data=data)
    assert res.metrics["backbone"] == SPEC and res.metrics["init_encoder"] and res.metrics["feature_report"]["features"] == "backbone"
    enc = torch.load(tmp_path / "run" / "simsiam.pt", weights_only=True)["encoder"]
    file_sd = torch.load(r18_file, weights_only=True)
    assert not torch.equal(enc["encoder.conv1.weight"], file_sd["conv1.weight"])   # SimSiam moved the pretrained weights
    model, info = load_model(tmp_path / "run" / "model.pt", device="cpu")
    assert info["in_channels"] == 3 and len(info["mean"]) == 3
    prob = predict(model, data[1], stats=(info["mean"], info["std"]), device="cpu")   # grey images, RGB model
    assert prob.shape == (40, 10) and np.allclose(prob.sum(1), 1, atol=1e-5)
    again = run_as3l(cfg, data=data)
    assert again.metrics["reused"] == ["features", "selection", "prior"]
    assert np.array_equal(again.selected, res.selected)


def test_backbone_view_grey_to_rgb():
    tr, _ = load_dataset("digits")
    bb = load_backbone(SPEC, pretrained=False, size=16)
    v = backbone_view(tr.subset(np.arange(8)), bb)
    assert v.x.shape == (8, 3, 8, 8) and v.mean == bb.mean and torch.equal(v.x[:, 0], v.x[:, 2])


def test_fixed_size_encoder_on_a_cpu(tmp_path, recwarn):
    "A ViT-like encoder that takes only 224 px: the automatic CPU size (64) falls back to it, once said; a chosen size fails early."
    from as3l.core import AS3LWarning
    from as3l.pipeline import prepare_run
    from as3l.stages import build_backbone
    (tmp_path / "hubconf.py").write_text(textwrap.dedent("""
        import torch.nn as nn
        class Fixed(nn.Module):
            def __init__(self):
                super().__init__(); self.conv = nn.Conv2d(3, 4, 16, 16)
            def forward(self, x):
                assert x.shape[-1] == 224, f"fixed grid: {x.shape[-1]} px"
                return self.conv(x).mean((2, 3))
        def fixed(pretrained=False): return Fixed()
    """))
    spec = f"hub:{tmp_path}:fixed"
    bb = build_backbone(spec, '', 3, size=64, auto_size=True)   # what resolve_config gives a CPU run
    assert bb.size == 224 and any("trains at its native size" in str(w.message) for w in recwarn.list
                                  if issubclass(w.category, AS3LWarning))
    tr, te = load_dataset("digits")
    cfg = AS3LConfig.from_preset("smoke", backbone=spec, train_size=64, run_dir=str(tmp_path / "run"))
    with pytest.raises(ValueError, match="--train-size 224"):
        prepare_run(cfg, (tr.subset(np.arange(50)), None))
    assert not (tmp_path / "run").exists()
