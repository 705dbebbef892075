"Features are a choice (SimSiam, pixels, one's own .npy), the label-free feature report, and max_train subsets."
import json
import warnings

import numpy as np
import pytest

import as3l.stages as st
from as3l.config import AS3LConfig, fingerprint, resolve_config
from as3l.core import AS3LWarning
from as3l.data import load_dataset
from as3l.images import from_arrays, train_subset
from as3l.features import feature_report, load_features, pixel_features
from as3l.pipeline import prepare_run, run_as3l
from as3l.stages import stage_selection
from as3l.testing import make_blobs


def res_plan(cfg, size=8):
    return resolve_config(cfg, size)


def _key(cfg, stage):
    return fingerprint(resolve_config(cfg, 8), stage)


def _smoke(tmp_path, name="run", **kw):
    return AS3LConfig.from_preset("smoke", run_dir=str(tmp_path / name), device="cpu", **kw)


@pytest.fixture(scope="module")
def digits_pixels():
    tr, _ = load_dataset("digits")
    return pixel_features(tr, 50, seed=0)


# -- one's own features, end to end --

def test_npy_features_end_to_end(tmp_path, monkeypatch, digits_pixels):
    "Selection on the file's features; stage 4 from scratch; a rerun reuses stage 1 instead of looking for simsiam.pt."
    feats = digits_pixels[:, ::-1] * 5.0                       # any scale: rows are L2-normalised on the way in
    path = tmp_path / "mine.npy"
    np.save(path, feats)
    monkeypatch.setattr(st, "init_from_simsiam", lambda *a: pytest.fail("stage 4 started from a SimSiam encoder"))
    monkeypatch.setattr(st, "train_simsiam", lambda *a, **kw: pytest.fail("SimSiam ran although features are given"))
    cfg = _smoke(tmp_path, features=str(path))
    res = run_as3l(cfg)
    f_self = np.load(res.run_dir / "f_self.npy")
    np.testing.assert_allclose(f_self, feats / np.linalg.norm(feats, axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    expected = stage_selection(res_plan(cfg).selection, load_features(path, 1437), tmp_path, device="cpu").selected
    np.testing.assert_array_equal(res.selected, expected)
    assert not (res.run_dir / "simsiam.pt").exists()
    m = json.loads((res.run_dir / "metrics.json").read_text())
    assert m["features"] == "npy" and m["init_encoder"] is False and m["feature_report"]["d"] == 50
    assert run_as3l(cfg).metrics["reused"] == ["features", "selection", "prior"]


def test_changed_features_file_recomputes(tmp_path, digits_pixels):
    path = tmp_path / "mine.npy"
    np.save(path, digits_pixels)
    cfg = _smoke(tmp_path, features=str(path), propagation="none")
    first = run_as3l(cfg, max_steps=1)
    np.save(path, digits_pixels[:, ::-1].copy())               # same name, other bytes
    again = run_as3l(cfg, max_steps=1)
    assert "features" not in first.metrics["reused"] and "features" not in again.metrics["reused"]
    np.testing.assert_array_equal(np.load(again.run_dir / "f_self.npy"), load_features(path))   # the new file was read


def test_fingerprint_follows_the_features(tmp_path, digits_pixels):
    np.save(tmp_path / "a.npy", digits_pixels)
    base = AS3LConfig.from_preset("smoke")
    keys = [_key(base.replace(**kw), "features") for kw in
            [{}, {"features": "pixels"}, {"features": str(tmp_path / "a.npy")}, {"max_train": 100},
             {"features": "pixels", "pixel_pca_dims": 20}]]
    assert len(set(keys)) == len(keys)
    assert _key(base.replace(features="pixels"), "features") == keys[1]                 # deterministic
    assert _key(base.replace(budget=40), "features") == keys[0]                         # not a stage 1 field


def test_fingerprint_follows_a_preset_change(monkeypatch):
    "A release that changes a preset's values (not its name) recomputes the stages they feed, and only those."
    from as3l.flexmatch import SSLConfig
    from as3l.simsiam import SimSiamConfig
    cfg = AS3LConfig.from_preset("cpu")
    pixels = cfg.replace(features="pixels")
    before = {s: _key(cfg, s) for s in ("features", "train")} | {"pixels": _key(pixels, "features")}
    monkeypatch.setitem(SSLConfig.PRESETS, "cpu", {**SSLConfig.PRESETS["cpu"], "iterations": 123})
    assert _key(cfg, "features") == before["features"] and _key(cfg, "train") != before["train"]
    monkeypatch.setitem(SimSiamConfig.PRESETS, "cpu", {**SimSiamConfig.PRESETS["cpu"], "step_cap": 4000})
    assert _key(cfg, "features") != before["features"]
    assert _key(pixels, "features") == before["pixels"]                             # SimSiam does not make pixel features


def test_pixels_rerun_reuses_stage1(tmp_path):
    "No simsiam.pt is ever written for pixels, and stage 1 is not rerun looking for one."
    cfg = _smoke(tmp_path, features="pixels", propagation="none")
    first = run_as3l(cfg, max_steps=1)
    assert not (first.run_dir / "simsiam.pt").exists() and first.metrics["init_encoder"] is False
    assert run_as3l(cfg, max_steps=1).metrics["reused"] == ["features", "selection", "prior"]


# -- damaged features files: one line that names the fix, before any work --

def _bad_files(d, n=1437):
    rng = np.random.default_rng(0)
    good = rng.normal(size=(n, 8)).astype(np.float32)
    nan = good.copy(); nan[[3, 40]] = np.nan
    inf = good.copy(); inf[5, 1] = np.inf
    files = {"short.npy": good[:100], "nan.npy": nan, "inf.npy": inf, "flat.npy": good[:, 0], "cube.npy": good[:, :, None],
             "words.npy": np.array(["a"] * n)}
    for name, a in files.items(): np.save(d / name, a)
    np.save(d / "object.npy", np.array([{"a": 1}] * n, dtype=object), allow_pickle=True)
    (d / "feats.csv").write_text("1,2\n3,4\n")
    (d / "truncated.npy").write_bytes((d / "nan.npy").read_bytes()[:500])
    return d


BAD = [("short.npy", "expected 1437 rows (one per training image, in data-set order), got 100"),
       ("nan.npy", "NaN or inf in 2 rows (the first: row 3)"), ("inf.npy", "NaN or inf in 1 row (the first: row 5)"),
       ("flat.npy", "shape (1437,); expected a 2-D (N, d) array"), ("cube.npy", "expected a 2-D (N, d) array"),
       ("words.npy", "values, not numbers"), ("object.npy", "not a readable .npy file"),
       ("feats.csv", "not a .npy file"), ("truncated.npy", "not a readable .npy file"), ("missing.npy", "not found")]


@pytest.mark.parametrize("name, message", BAD, ids=[b[0] for b in BAD])
def test_bad_features_file_is_one_line(tmp_path, name, message):
    _bad_files(tmp_path)
    with pytest.raises(ValueError) as e:
        run_as3l(_smoke(tmp_path, features=str(tmp_path / name)))
    assert message in str(e.value) and "\n" not in str(e.value) and str(tmp_path / name) in str(e.value)
    assert not (tmp_path / "run").exists()                     # failed before the run folder was made


def test_unknown_features_kind_lists_the_choices():
    with pytest.raises(ValueError, match="unknown features 'pca'; choose 'simsiam'.*'pixels'.*\\.npy"):
        AS3LConfig.from_preset("smoke", features="pca")


# -- the feature report --

def test_report_collapsed_features():
    # every image on one line through the origin's neighbourhood: L2-normalised, two antipodal points
    x = 1 + np.outer(np.random.default_rng(0).normal(size=300), np.ones(32)).astype(np.float32)
    rep = feature_report(x, x, k=5, seed=0)
    assert rep.erank_self < 1.01
    assert rep.warnings[0].startswith("features look collapsed (effective rank 1.0 of 32, below 2.0): "
                                      "try --features pixels, a pretrained --backbone")
    assert "effective rank of f_self: 1.0 of 32 dimensions" in str(rep) and "warning: features look collapsed" in str(rep)
    one_point = feature_report(np.ones((50, 8), np.float32), None, k=3)
    assert one_point.erank_self == 0.0 and one_point.warnings[0].startswith("features look collapsed (effective rank 0.0")


def test_report_unclusterable_and_healthy_features():
    stable, _ = make_blobs(600, k=6, d=16, spread=0.3, seed=0)
    unstable = np.random.default_rng(1).normal(size=(600, 16)).astype(np.float32)
    both = feature_report(unstable, unstable, k=6, seed=0, features="pixels")
    assert both.ari_self < 0.3 and both.erank_self > 12      # spread everywhere, clustered nowhere
    assert [w.split(" (")[0] for w in both.warnings] == ["the features barely cluster"] and "--features simsiam" in both.warnings[0]
    # a drop from f_self to f_fine alone is no longer a warning (it fired on strong features: benchmark 14)
    assert feature_report(stable, unstable, k=6, seed=0).warnings == []
    healthy = feature_report(stable, stable, k=6, pixels=unstable)
    assert healthy.warnings == [] and str(healthy).endswith("\n  no sign of collapse or of missing clusters")
    assert healthy.pixels_ari < 0.3 and healthy.pixels_d == 16 and "raw pixels 0." in str(healthy)
    assert "cannot tell" in str(healthy)                     # no switch recommended from label-free numbers
    assert feature_report(stable, unstable, k=6, seed=0).to_dict() == feature_report(stable, unstable, k=6, seed=0).to_dict()


def test_report_in_metrics_and_run_folder(tmp_path):
    res = run_as3l(_smoke(tmp_path, features="pixels", propagation="none"), max_steps=1)
    stored = json.loads((res.run_dir / "feature_report.json").read_text())
    assert stored["report"] == res.metrics["feature_report"]
    r = res.metrics["feature_report"]
    assert (r["features"], r["n"], r["d"], r["k"]) == ("pixels", 1437, 50, 10) and 0 <= r["ari_self"] <= 1
    assert r["pixels_erank"] is None      # the features are the pixels: nothing to show beside


# -- max_train --

def _fake(n, seed=0):
    rng = np.random.default_rng(seed)
    return from_arrays(rng.integers(0, 256, size=(n, 4, 4), dtype=np.uint8), rng.integers(0, 3, size=n))


def test_max_train_subset_is_seeded_and_said_once(tmp_path):
    data = (_fake(300), None)
    cfg = _smoke(tmp_path, features="pixels", max_train=100, budget=5, propagation="none")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always", AS3LWarning)
        prep = prepare_run(cfg, data)
    run_dir, train = prep.run_dir, prep.train
    assert [str(x.message) for x in w] == [
        "using 100 of 300 training images, a seeded random subset (max_train=0 / --max-train 0 keeps all)"]
    keep = np.load(run_dir / "train_idx.npy")
    np.testing.assert_array_equal(keep, train_subset(300, 100, seed=0))
    assert len(train) == 100 and len(np.unique(keep)) == 100 and (np.diff(keep) > 0).all()
    np.testing.assert_array_equal(train.x.numpy(), data[0].x.numpy()[keep])
    again = prepare_run(cfg, data).train
    np.testing.assert_array_equal(again.x.numpy(), train.x.numpy())
    other = train_subset(300, 100, seed=1)
    assert not np.array_equal(other, keep)
    res = run_as3l(cfg, data=data, max_steps=1)
    assert res.metrics["n_train"] == 100 and np.load(res.run_dir / "f_self.npy").shape[0] == 100
    # all images again: no line, and no stale train_idx.npy left behind
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always", AS3LWarning)
        prepare_run(cfg.replace(max_train=0), data)
    assert not [x for x in w if "training images" in str(x.message)] and not (run_dir / "train_idx.npy").exists()


def test_cpu_preset_caps_at_10000(tmp_path):
    assert AS3LConfig.from_preset("cpu").max_train == 10_000
    assert all(AS3LConfig.from_preset(p).max_train == 0 for p in ("smoke", "paper", "paper_cifar100", "paper_stl10"))
    cfg = AS3LConfig.from_preset("cpu", run_dir=str(tmp_path / "run"))
    with pytest.warns(AS3LWarning, match=r"^using 10,000 of 12,000 training images, a seeded random subset "
                                         r"\(max_train=0 / --max-train 0 keeps all\)$"):
        train = prepare_run(cfg, (_fake(12_000), None)).train
    assert len(train) == 10_000


def test_npy_features_with_max_train_take_the_subset_rows(tmp_path):
    data = (_fake(300), None)
    feats = np.random.default_rng(0).normal(size=(300, 6)).astype(np.float32)
    np.save(tmp_path / "f.npy", feats)
    cfg = _smoke(tmp_path, features=str(tmp_path / "f.npy"), max_train=100, budget=5, propagation="none")
    res = run_as3l(cfg, data=data, max_steps=1)
    keep = train_subset(300, 100, seed=0)
    np.testing.assert_allclose(np.load(res.run_dir / "f_self.npy"), load_features(tmp_path / "f.npy")[keep])
    np.save(tmp_path / "f.npy", feats[:100])                   # rows for the subset only: not the data set's order
    with pytest.raises(ValueError, match="expected 300 rows"):
        run_as3l(cfg, data=data, max_steps=1)
