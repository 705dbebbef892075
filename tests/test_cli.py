"The command line's last rough answers: label sheets from spreadsheets, paths as typed, impossible image sizes."
import csv

import numpy as np
import pytest

from as3l.cli import main
from as3l.sheets import read_label_sheet
from as3l.pipeline import AS3LConfig


def _train(d, sheet, run, *extra):
    return main(["train", "--data", str(d), "--labels", str(sheet), "--classes", "0,1,2,3,4,5,6,7,8,9",
                 "--preset", "smoke", "--image-size", "8", "--run-dir", str(run), *extra])


def _one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("as3l: error:") and "\n" not in err, err
    return err


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])   # Excel's plain CSV on Windows; its "Unicode text"
def test_label_sheet_not_utf8_names_the_fix(photo_folder, tmp_path, capsys, encoding):
    d, _ = photo_folder
    sheet = tmp_path / "sheet.csv"
    sheet.write_bytes("path,label\nd00.png,café\n".encode(encoding))
    run = tmp_path / "run"; run.mkdir(); (run / "keep.npy").write_bytes(b"x")
    assert _train(d, sheet, run) == 2
    err = _one_line_error(capsys)
    assert f"{sheet} is not a UTF-8 CSV file" in err and "save it as 'CSV UTF-8'" in err
    assert (run / "keep.npy").read_bytes() == b"x"


def test_label_sheet_bom_and_paths_as_typed(photo_folder, tmp_path, monkeypatch):
    "A sheet saved by Excel (BOM) naming images relative to the current folder, absolutely, or as `select` wrote them."
    d, truth = photo_folder
    monkeypatch.chdir(d.parent)
    names = sorted(truth)[:9]
    forms = [f"photos/{names[0]}", str(d / names[1]), str(d / "." / names[2]), f"./photos/{names[3]}",
             f"photos/../photos/{names[4]}"] + names[5:]
    sheet = tmp_path / "sheet.csv"
    with open(sheet, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f); w.writerow(["path", "label"])
        for p, n in zip(forms, names): w.writerow([p, truth[n]])
    assert sheet.read_bytes().startswith(b"\xef\xbb\xbfpath,label")
    paths = sorted(truth)
    idx, y, classes = read_label_sheet(sheet, paths, root="photos")
    assert [paths[i] for i in idx] == names and [classes[k] for k in y] == [truth[n] for n in names]
    # the whole command accepts it too (stages 1-4 at smoke scale), writing predictions for every image
    preds = tmp_path / "pred.csv"
    assert _train("photos", sheet, tmp_path / "run", "--out", str(preds)) == 0
    assert len(list(csv.DictReader(open(preds, encoding="utf-8")))) == 60


def test_same_image_spelled_twice_and_paths_outside_the_folder(photo_folder, tmp_path, monkeypatch, capsys):
    d, _ = photo_folder
    monkeypatch.chdir(d.parent)
    other = d.parent / "other"; other.mkdir(exist_ok=True)
    (other / "d00.png").write_bytes((d / "d00.png").read_bytes())     # a real image, but not of the folder
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"path,label\nd00.png,1\nphotos/d00.png,1\n{other / 'd00.png'},2\nother/d00.png,2\n"
                     f"../d00.png,3\nd01.png,4\n")
    assert _train("photos", sheet, tmp_path / "run") == 2
    err = _one_line_error(capsys)
    assert "row 3: 'photos/d00.png' listed twice (first on row 2)" in err
    for p in (str(other / "d00.png"), "other/d00.png", "../d00.png"):
        assert f"unknown image {p!r}" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("cmd", ["select", "train"])
@pytest.mark.parametrize("size", ["0", "-3"])
def test_image_size_must_be_positive(photo_folder, tmp_path, capsys, cmd, size):
    d, _ = photo_folder
    extra = ["--labels", str(tmp_path / "sheet.csv")] if cmd == "train" else []
    assert main([cmd, "--data", str(d), "--image-size", size, "--run-dir", str(tmp_path / "run"), *extra]) == 2
    err = _one_line_error(capsys)
    assert f"--image-size must be a positive number of pixels, e.g. --image-size 32 (got {size})" in err
    assert not (tmp_path / "run").exists()


def test_negative_image_size_in_config():
    with pytest.raises(ValueError, match="image_size must be a positive number of pixels"):
        AS3LConfig.from_preset("smoke", image_size=-1)
    assert AS3LConfig.from_preset("smoke", image_size=0).image_size == 0      # 0 keeps the data set's size


# -- --features and --max-train on one's own folder --

def test_pixels_select_and_train_with_a_subset(photo_folder, tmp_path, capsys):
    "select and train draw the same subset; the sheet names real files of it; predictions cover every image."
    from as3l.images import train_subset
    d, truth = photo_folder
    sheet, preds, run = tmp_path / "to_label.csv", tmp_path / "pred.csv", tmp_path / "run"
    opts = ["--preset", "smoke", "--image-size", "8", "--features", "pixels", "--max-train", "40", "--run-dir", str(run)]
    from as3l.core import AS3LWarning
    with pytest.warns(AS3LWarning, match="^using 40 of 60 training images"):   # printed as one line outside pytest
        assert main(["select", "--data", str(d), "--budget", "8", "--out", str(sheet)] + opts) == 0
    out = capsys.readouterr().out
    assert "feature check (label-free; pixels features, 40 x" in out and "effective rank of f_self" in out
    assert "--features pixels --max-train 40" in out.splitlines()[-1]          # the train command repeats them
    rows = list(csv.DictReader(open(sheet)))
    names = sorted(truth)
    subset = {names[i] for i in train_subset(60, 40, seed=0)}
    assert len(rows) == 8 and {r["path"] for r in rows} <= subset and all((d / r["path"]).is_file() for r in rows)
    assert not (run / "simsiam.pt").exists()
    first = sheet.read_text()
    assert main(["select", "--data", str(d), "--budget", "8", "--out", str(sheet)] + opts) == 0
    assert sheet.read_text() == first                                          # same folder, seed: same subset
    with open(sheet, "w", newline="") as f:
        w = csv.writer(f); w.writerow(["path", "label"])
        for r in rows: w.writerow([r["path"], truth[r["path"]]])
    before = (run / "f_self.npy").stat().st_mtime_ns
    assert main(["train", "--data", str(d), "--labels", str(sheet), "--out", str(preds)] + opts) == 0
    assert (run / "f_self.npy").stat().st_mtime_ns == before, "train recomputed stage 1"
    out = list(csv.DictReader(open(preds)))
    assert sorted(r["path"] for r in out) == names                            # every image, in or out of the subset
    scores = [float(r["softmax"]) for r in out]
    assert scores == sorted(scores)                                            # least confident first
    # a labelled image outside the subset: one line, naming it
    outside = sorted(set(names) - subset)[0]
    with open(sheet, "a", newline="") as f: csv.writer(f).writerow([outside, "1"])
    assert main(["train", "--data", str(d), "--labels", str(sheet), "--out", str(preds)] + opts) == 2
    err = _one_line_error(capsys)
    assert f"1 labelled image(s) are not among the 40 images this run uses (max_train=40, seed 0): {outside!r}" in err


@pytest.mark.parametrize("make, message", [
    (lambda p: np.save(p, np.zeros((59, 4), np.float32)), "expected 60 rows (one per training image, in data-set order), got 59"),
    (lambda p: np.save(p, np.full((60, 4), np.nan, np.float32)), "NaN or inf in 60 rows"),
    (lambda p: np.save(p, np.zeros(60, np.float32)), "expected a 2-D (N, d) array"),
    (lambda p: None, "not found"),
])
def test_bad_features_file_from_the_command_line(photo_folder, tmp_path, capsys, make, message):
    d, _ = photo_folder
    f = tmp_path / "feats.npy"
    make(f)
    assert main(["select", "--data", str(d), "--features", str(f), "--preset", "smoke", "--image-size", "8",
                 "--run-dir", str(tmp_path / "run")]) == 2
    assert message in _one_line_error(capsys)
    assert not (tmp_path / "run").exists()


def test_unknown_features_and_negative_max_train(photo_folder, tmp_path, capsys):
    d, _ = photo_folder
    assert main(["select", "--data", str(d), "--features", "pca", "--run-dir", str(tmp_path / "run")]) == 2
    assert "choose 'simsiam'" in _one_line_error(capsys)
    assert main(["select", "--data", str(d), "--max-train", "-1", "--run-dir", str(tmp_path / "run")]) == 2
    assert "max_train must be a number of training images" in _one_line_error(capsys)


class _Planned(Exception):
    "Raised in place of stage 1: carries the resolved plan of the run that got that far."


def _plan_of(monkeypatch, call) -> dict:
    "The resolved plan (every stage's config) of a command-line or Python run, stopped before any training."
    import as3l.cli, as3l.pipeline
    def stop(run): raise _Planned(run.plan.to_dict())
    monkeypatch.setattr(as3l.pipeline, "run_selection", stop)
    monkeypatch.setattr(as3l.cli, "run_selection", stop)
    with pytest.raises(_Planned) as e: call()
    return e.value.args[0]


def _npz(tmp_path, shape):
    path = tmp_path / "images.npz"
    np.savez_compressed(path, x_train=np.zeros(shape, np.uint8), y_train=np.arange(shape[0]) % 3)
    return path


@pytest.mark.parametrize("case", ["digits", "npz_nhwc_32", "npz_8", "folder_32"])
def test_command_line_and_python_train_the_same_network(monkeypatch, tmp_path, photo_folder, case):
    "`as3l run`/`select` and `run_as3l(AS3LConfig.from_preset('cpu', ...))` resolve the same config: same backbone, same stages."
    from as3l.pipeline import run_as3l
    run_dir = str(tmp_path / "run")
    if case == "digits":
        argv, py = ["run", "--dataset", "digits"], dict(dataset="digits")
    elif case.startswith("npz"):
        path = _npz(tmp_path, (40, 32, 32, 3) if case.endswith("32") else (40, 8, 8))
        argv, py = ["run", "--dataset", "npz", "--data-root", str(path)], dict(dataset="npz", data_root=str(path))
    else:
        d, _ = photo_folder
        argv = ["select", "--data", str(d), "--image-size", "32", "--out", str(tmp_path / "s.csv")]
        py = dict(dataset="folder", data_root=str(d), image_size=32)
    cli_plan = _plan_of(monkeypatch, lambda: main(argv + ["--run-dir", run_dir]))
    py_plan = _plan_of(monkeypatch, lambda: run_as3l(AS3LConfig.from_preset("cpu", run_dir=run_dir, **py)))
    assert cli_plan == py_plan
    want = "cnn_small" if case in ("digits", "npz_8") else "cnn"
    assert cli_plan["train"]["model"] == cli_plan["simsiam"]["arch"] == want


@pytest.mark.parametrize("preset,sets,model", [("paper", [], "wrn28_2"), ("cpu", ["--set", "model=resnet18"], "resnet18")])
def test_a_named_backbone_is_kept(monkeypatch, tmp_path, preset, sets, model):
    "A paper preset or `--set model=` names the backbone; the image-size rule applies only when none is named."
    path = _npz(tmp_path, (40, 32, 32, 3))
    plan = _plan_of(monkeypatch, lambda: main(["run", "--dataset", "npz", "--data-root", str(path), "--preset", preset,
                                               "--run-dir", str(tmp_path / "run"), *sets]))
    assert plan["train"]["model"] == model
