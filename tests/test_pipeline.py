"Pipeline and CLI: determinism, artifacts, resume after a crash, and one-line errors for bad input."
import csv
import json

import numpy as np
import pytest
import torch

from as3l.cli import build_parser, main
from as3l.pipeline import AS3LConfig, run_as3l


def _smoke(tmp_path, name="run", **kw):
    return AS3LConfig.from_preset("smoke", run_dir=str(tmp_path / name), device="cpu", **kw)


def test_same_seed_same_selection_and_prior(tmp_path):
    a = run_as3l(_smoke(tmp_path, "a"))
    b = run_as3l(_smoke(tmp_path, "b"))
    np.testing.assert_array_equal(a.selected, b.selected)
    np.testing.assert_array_equal(a.prior, b.prior)
    c = run_as3l(_smoke(tmp_path, "c", seed=1))
    assert not np.array_equal(a.prior, c.prior)


def test_artifacts_and_metrics(tmp_path):
    res = run_as3l(_smoke(tmp_path, budget=12))
    m = json.loads((res.run_dir / "metrics.json").read_text())
    assert m["budget"] == 12 and 1 <= m["class_coverage"] <= 10
    assert 0 <= m["prior_acc"] <= 1 and 0 <= m["best_acc"] <= 1 and 0 <= m["prior_ece"] <= 1
    np.testing.assert_allclose(np.load(res.run_dir / "prior.npy").sum(1), 1, atol=1e-5)
    assert json.loads((res.run_dir / "config.json").read_text())["budget"] == 12
    again = run_as3l(_smoke(tmp_path, budget=12))   # all stages reused: timing is kept, not re-measured over 0 steps
    assert again.metrics["sec_per_iter"] == m["sec_per_iter"] > 0
    assert (res.run_dir / m["ssl_dir"] / "checkpoint.pt").exists()


def test_crash_in_stage4_resumes_without_recomputing(tmp_path, monkeypatch):
    cfg = _smoke(tmp_path)
    import as3l.stages as st
    real = st.train_ssl

    def crash_after(*a, **kw):
        kw["max_steps"] = 5
        real(*a, **kw)
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(st, "train_ssl", crash_after)
    with pytest.raises(KeyboardInterrupt):
        run_as3l(cfg)
    monkeypatch.setattr(st, "train_ssl", real)
    resumed = run_as3l(cfg)
    assert resumed.metrics["reused"] == ["features", "selection", "prior"]
    fresh = run_as3l(cfg.replace(run_dir=str(tmp_path / "fresh")))
    assert resumed.metrics["best_acc"] == fresh.metrics["best_acc"]
    assert resumed.metrics["last_acc"] == fresh.metrics["last_acc"]


def test_flexmatch_from_scratch_arm(tmp_path):
    res = run_as3l(_smoke(tmp_path, strategy="random", propagation="none", init_encoder=False))
    assert res.prior is None and res.metrics["prior_acc"] is None and 0 <= res.metrics["best_acc"] <= 1


@pytest.mark.parametrize("bad, message", [
    (dict(budget=0), "budget"), (dict(strategy="best"), "choose one of"), (dict(propagation="magic"), "propagation"),
])
def test_bad_config_one_line_errors(tmp_path, bad, message):
    with pytest.raises(ValueError, match=message) as e:
        run_as3l(_smoke(tmp_path, **bad))
    assert "\n" not in str(e.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without a GPU")
def test_cuda_without_gpu_is_a_clear_error(tmp_path, capsys):
    assert main(["run", "--dataset", "digits", "--preset", "smoke", "--device", "cuda",
                 "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("as3l: error:") and "cpu" in err and "\n" not in err


def test_help_explains_every_option(capsys):
    for cmd in ("run", "select", "train"):
        with pytest.raises(SystemExit) as e:
            build_parser().parse_args([cmd, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        for opt in ("--preset", "--budget", "--strategy", "--seed", "--device", "--run-dir", "--set", "--features",
                    "--max-train"):
            assert opt in out


def test_unknown_dataset_and_missing_folder(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["run", "--dataset", "mnist"])
    assert main(["select", "--data", str(tmp_path / "nope"), "--preset", "smoke"]) == 2
    assert "as3l: error:" in capsys.readouterr().err


def test_select_label_train_round_trip(photo_folder, tmp_path):
    d, truth = photo_folder
    sheet, preds = tmp_path / "to_label.csv", tmp_path / "pred.csv"
    common = ["--preset", "smoke", "--image-size", "8", "--run-dir", str(tmp_path / "run")]
    assert main(["select", "--data", str(d), "--budget", "8", "--out", str(sheet)] + common) == 0
    rows = list(csv.DictReader(open(sheet)))
    assert len(rows) == 8 and all(r["label"] == "" for r in rows)
    with open(sheet, "w", newline="") as f:
        w = csv.writer(f); w.writerow(["path", "label"])
        for r in rows: w.writerow([r["path"], truth[r["path"]]])
    before = (tmp_path / "run" / "f_self.npy").stat().st_mtime
    assert main(["train", "--data", str(d), "--labels", str(sheet), "--out", str(preds)] + common) == 0
    assert (tmp_path / "run" / "f_self.npy").stat().st_mtime == before, "train recomputed the SimSiam features"
    out = list(csv.DictReader(open(preds)))
    assert len(out) == 60 and {r["path"] for r in out} == set(truth)
    assert list(out[0]) == ["path", "predicted", "softmax"]              # no label-free accuracy estimate any more
    raw = [float(r["softmax"]) for r in out]
    assert all(r["predicted"] in set(truth.values()) for r in out) and raw == sorted(raw)   # least confident first
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "est_acc" not in m and m["unlabelled_acc"] is None and 0 < m["softmax_mean"] <= 1


@pytest.mark.parametrize("content, message", [
    ("path,label\nd00.png,\n", "empty label"),
    ("path,label\nmissing.png,3\n", "unknown image"),
    ("path,label\nd00.png,1\nd00.png,1\n", "listed twice"),
    ("path,label\nd00.png,seven\nd01.png,1\n", "unknown class"),
    ("file,class\nd00.png,1\n", "header"),
])
def test_bad_label_sheets(photo_folder, tmp_path, capsys, content, message):
    d, _ = photo_folder
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(content)
    run = tmp_path / "run"; run.mkdir(); (run / "keep.npy").write_bytes(b"x")
    rc = main(["train", "--data", str(d), "--labels", str(sheet), "--classes", "0,1,2,3,4,5,6,7,8,9",
               "--preset", "smoke", "--image-size", "8", "--run-dir", str(run)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and err.count("\n") == 0
    assert (run / "keep.npy").read_bytes() == b"x"


def test_probcover_in_the_pipeline_uses_the_class_count(tmp_path):
    "ProbCover's delta comes from k-means with K = number of classes (Yehuda et al.), not K = budget."
    from as3l.active import select_probcover
    from as3l.config import SelectionConfig
    from as3l.stages import stage_selection
    from as3l.testing import make_blobs
    x, y = make_blobs(600, k=6, d=16, spread=0.6, seed=0)
    sc = SelectionConfig(budget=24, strategy="probcover", finetune_epochs=5)
    idx = stage_selection(sc, x, tmp_path, labels=y, device="cpu").selected
    np.testing.assert_array_equal(idx, select_probcover(x, 24, 0, n_classes=6))
    assert not np.array_equal(idx, select_probcover(x, 24, 0))   # the budget's K gives other balls here
