"""The audit (issue #30): a blind random sample of the predictions, labelled, gives the accuracy with a Wilson interval.

Checks: the default size and the interval's arithmetic, the interval's coverage on synthetic predictions (1,000 seeded
draws, and exactly), the blind sheet, one-line errors for bad sheets, and that nothing already written is lost.
"""
import csv
import json
import warnings
from math import comb

import pytest

from as3l.audit import (AuditResult, audit_size, draw_audit, merge_audit_labels, read_predictions, score_audit,
                        start_audit, wilson_interval)

CLASSES = ['cat', 'dog', 'fox']


def _population(n=300, acc=0.8, seed=0):
    "Synthetic images: `{path: true class}`, `{path: predicted class}` with about `acc` right."
    import numpy as np
    rng = np.random.default_rng(seed)
    paths = [f'im{i:04d}.png' for i in range(n)]
    truth = {p: CLASSES[rng.integers(3)] for p in paths}
    pred = {p: t if rng.random() < acc else CLASSES[(CLASSES.index(t) + 1) % 3] for p, t in truth.items()}
    return paths, truth, pred


@pytest.fixture
def setup(tmp_path):
    paths, truth, pred = _population()
    preds = tmp_path / 'predictions.csv'
    preds.write_text('path,predicted,softmax\n' + ''.join(f'{p},{c},0.5\n' for p, c in pred.items()))
    labels = tmp_path / 'to_label.csv'
    labels.write_text('path,label\n' + ''.join(f'{p},{truth[p]}\n' for p in paths[:20]))
    run = tmp_path / 'run'
    run.mkdir()
    (run / 'metrics.json').write_text(json.dumps({'acc': 0.9, 'budget': 20}))
    return dict(tmp=tmp_path, paths=paths, truth=truth, pred=pred, preds=preds, labels=labels, run=run)


def _fill(sheet, label_of):
    "The expert: fill every row of the sheet with `label_of(path)`."
    rows = list(csv.DictReader(open(sheet, encoding='utf-8')))
    sheet.write_text('path,label\n' + ''.join(f"{r['path']},{label_of(r['path'])}\n" for r in rows))
    return [r['path'] for r in rows]


# ---- size and interval
def test_audit_size_default_is_the_smallest_within_10_points():
    assert audit_size() == 93
    half = lambda n: max((wilson_interval(k, n)[1] - wilson_interval(k, n)[0]) / 2 for k in range(n + 1))
    assert half(93) <= 0.10 < half(92)
    assert audit_size(0.05) == 381 and audit_size(0.10, 0.90) == 65


def test_wilson_interval_values_and_edges():
    lo, hi = wilson_interval(41, 50)
    assert (round(lo, 4), round(hi, 4)) == (0.6920, 0.9023)
    assert wilson_interval(0, 30)[0] == 0.0 and wilson_interval(30, 30)[1] == 1.0
    assert 0 < wilson_interval(0, 30)[1] < 0.15 and 0.85 < wilson_interval(30, 30)[0] < 1
    for bad, msg in [((0, 0), 'label the audit sheet'), ((4, 3), 'k must lie in 0..n'), ((-1, 3), 'k must lie in 0..n')]:
        with pytest.raises(ValueError, match=msg) as e:
            wilson_interval(*bad)
        assert '\n' not in str(e.value)
    with pytest.raises(ValueError, match='e.g. 0.95'):
        wilson_interval(3, 5, confidence=95)


@pytest.mark.parametrize('acc', [0.8, 0.95])
def test_interval_covers_the_truth_at_the_stated_rate(acc):
    "1,000 seeded audits of the default 93 from 2,000 predictions with a known accuracy: about 95 % of intervals cover it."
    M, n = 2000, audit_size()
    paths = [f'p{i:04d}.png' for i in range(M)]
    right = set(paths[:int(acc * M)])
    cover = 0
    for seed in range(1000):
        k = sum(p in right for p in draw_audit(paths, n, seed=seed))
        lo, hi = wilson_interval(k, n)
        cover += lo <= acc <= hi
    # computed with these seeds: 0.946 (acc 0.8), 0.955 (acc 0.95); the exact values (below) are 0.954 and 0.953
    assert 0.93 <= cover / 1000 <= 0.97, cover
    R = int(acc * M)
    exact = sum(comb(R, k) * comb(M - R, n - k) / comb(M, n) for k in range(n + 1)
                if wilson_interval(k, n)[0] <= acc <= wilson_interval(k, n)[1])
    assert abs(cover / 1000 - exact) < 3 * (exact * (1 - exact) / 1000) ** 0.5   # within 3 SD of the exact coverage


def test_exact_coverage_over_plausible_accuracies():
    "Exact binomial coverage of the 95 % Wilson interval at 50 and 93 images stays within 0.93-0.975."
    for n in (50, 93):
        for p in (0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95):
            cov = sum(comb(n, k) * p**k * (1 - p)**(n - k) for k in range(n + 1)
                      if wilson_interval(k, n)[0] <= p <= wilson_interval(k, n)[1])
            assert 0.93 <= cov <= 0.975, (n, p, cov)


# ---- the blind sheet
def test_blind_sheet_has_no_predicted_column(setup):
    s = start_audit(setup['preds'], setup['tmp'] / 'audit.csv', n=40, seed=3, exclude=setup['labels'])
    rows = list(csv.reader(open(s, encoding='utf-8')))
    assert rows[0] == ['path', 'label'] and len(rows) == 41
    assert all(r[1] == '' and len(r) == 2 for r in rows[1:])
    text = s.read_text()
    assert not any(c in text for c in CLASSES)                       # no prediction anywhere in the sheet
    drawn = [r[0] for r in rows[1:]]
    assert not set(drawn) & set(setup['paths'][:20])                 # nothing trained on is audited
    assert drawn != sorted(drawn)                                    # random order, not the predictions' order
    rec = json.loads((setup['tmp'] / 'audit.sample.json').read_text())
    assert (rec['n'], rec['population'], rec['excluded'], rec['paths']) == (40, 280, 20, drawn)


def test_draw_is_seeded_and_default_size(setup):
    a = start_audit(setup['preds'], setup['tmp'] / 'a.csv', seed=1).read_text()
    b = start_audit(setup['preds'], setup['tmp'] / 'b.csv', seed=1).read_text()
    c = start_audit(setup['preds'], setup['tmp'] / 'c.csv', seed=2).read_text()
    assert a == b != c and len(a.splitlines()) == 1 + 93
    assert len(start_audit(setup['preds'], setup['tmp'] / 'd.csv', n=10_000).read_text().splitlines()) == 1 + 300


def test_start_audit_bad_inputs(setup):
    with pytest.raises(ValueError, match="excluded image.*not in.*as the predictions CSV does"):
        start_audit(setup['preds'], setup['tmp'] / 'a.csv', exclude=['photos/im0001.png'])
    with pytest.raises(ValueError, match='is the predictions CSV'):
        start_audit(setup['preds'], setup['preds'])
    with pytest.raises(ValueError, match='n >= 1'):
        start_audit(setup['preds'], setup['tmp'] / 'a.csv', n=0)
    (setup['tmp'] / 'p.csv').write_text('path,label\nim0001.png,cat\n')
    with pytest.raises(ValueError, match='needs columns `path,predicted`'):
        start_audit(setup['tmp'] / 'p.csv', setup['tmp'] / 'a.csv')
    with pytest.raises(FileNotFoundError, match='run `as3l train` first'):
        start_audit(setup['tmp'] / 'none.csv', setup['tmp'] / 'a.csv')


def test_filled_sheet_is_never_overwritten(setup):
    s = start_audit(setup['preds'], setup['tmp'] / 'audit.csv', n=30)
    _fill(s, setup['truth'].get)
    before = s.read_text(), (setup['tmp'] / 'audit.sample.json').read_text()
    with pytest.raises(FileExistsError, match='already holds 30 label'):
        start_audit(setup['preds'], s, n=30, seed=5)
    assert (s.read_text(), (setup['tmp'] / 'audit.sample.json').read_text()) == before
    other = setup['tmp'] / 'notes.csv'
    other.write_text('my,notes\n1,2\n')
    with pytest.raises(FileExistsError, match='not an audit sheet'):
        start_audit(setup['preds'], other)
    assert other.read_text() == 'my,notes\n1,2\n'
    start_audit(setup['preds'], s, n=30, seed=5, overwrite=True)     # asked: replaced
    assert s.read_text() != before[0]


# ---- scoring
def test_score_reports_accuracy_interval_and_confusion(setup):
    s = start_audit(setup['preds'], setup['tmp'] / 'audit.csv', n=50, exclude=setup['labels'])
    drawn = _fill(s, setup['truth'].get)
    res = score_audit(setup['preds'], s, run_dir=setup['run'])
    k = sum(setup['pred'][p] == setup['truth'][p] for p in drawn)
    assert (res.n, res.correct, res.accuracy) == (50, k, k / 50)
    assert (res.lo, res.hi) == wilson_interval(k, 50)
    assert res.confusion.counts.sum() == 50 and res.confusion.counts.trace() == k
    truth_acc = sum(setup['pred'][p] == setup['truth'][p] for p in setup['paths'][20:]) / 280
    assert res.lo <= truth_acc <= res.hi
    m = json.loads((setup['run'] / 'metrics.json').read_text())
    assert m['acc'] == 0.9 and m['budget'] == 20 and m['audit']['correct'] == k and m['audit']['method'] == 'wilson'
    assert json.loads((setup['run'] / 'audit.json').read_text()) == res.to_dict()
    assert res.population == 280 and res.unbiased
    text = str(res)
    assert text.splitlines()[0] == res.headline() and 'true \\ predicted' in text and 'fresh draw' in text
    assert '| true ↓ predicted → |' in res._repr_markdown_()


def test_headline_format(setup):
    s = start_audit(setup['preds'], setup['tmp'] / 'audit.csv', n=50)
    drawn = _fill(s, setup['pred'].get)                              # the model right on all ...
    wrong = drawn[:9]                                                # ... but 9
    s.write_text('path,label\n' + ''.join(
        f"{p},{CLASSES[(CLASSES.index(setup['pred'][p]) + 1) % 3] if p in wrong else setup['pred'][p]}\n" for p in drawn))
    res = score_audit(setup['preds'], s)
    assert res.headline() == 'audited 50 images: 41 right, accuracy 82.0 % (95 % interval 69.2-90.2 %, Wilson)'
    assert isinstance(res, AuditResult)


def _bad_cases(drawn, truth):
    first, second = drawn[0], drawn[1]
    body = [f'{p},{truth[p]}' for p in drawn]
    outside = 'im0000.png'                                           # labelled, so never in the audit
    return {
        'wrong columns': ('file,class\n' + '\n'.join(body), 'needs columns `path,label` (found file,class)'),
        'unknown class': ('path,label\n' + '\n'.join([f'{first},cow'] + body[1:]),
                          "row 2: unknown class 'cow'; the classes are cat, dog, fox"),
        'not in the audit': ('path,label\n' + '\n'.join(body + [f'{outside},cat']),
                             f"row 52: '{outside}' is not in the audit sample"),
        'empty label': ('path,label\n' + '\n'.join([f'{first},'] + body[1:]), f"row 2: empty label for '{first}'"),
        'duplicate': ('path,label\n' + '\n'.join(body + [f'{second},dog']), f"'{second}' listed twice (first on row 3)"),
        'dropped row': ('path,label\n' + '\n'.join(body[1:]), f"1 audit image(s) missing from the sheet, e.g. '{first}'"),
        'not UTF-8': (None, 'not a UTF-8 CSV file'),
    }


@pytest.mark.parametrize('case', ['wrong columns', 'unknown class', 'not in the audit', 'empty label', 'duplicate',
                                  'dropped row', 'not UTF-8'])
def test_bad_audit_sheets_raise_one_line_and_write_nothing(setup, case):
    s = start_audit(setup['preds'], setup['tmp'] / 'audit.csv', n=50, exclude=setup['labels'])
    drawn = _fill(s, setup['truth'].get)
    text, msg = _bad_cases(drawn, setup['truth'])[case]
    if text is None: s.write_bytes(('path,label\n' + f'{drawn[0]},café\n').encode('cp1252'))
    else: s.write_text(text + '\n')
    metrics = (setup['run'] / 'metrics.json').read_text()
    with pytest.raises(ValueError) as e:
        score_audit(setup['preds'], s, run_dir=setup['run'])
    assert msg in str(e.value) and '\n' not in str(e.value), str(e.value)
    assert (setup['run'] / 'metrics.json').read_text() == metrics and not (setup['run'] / 'audit.json').exists()


def test_classes_allow_a_class_never_predicted(setup):
    s = start_audit(setup['preds'], setup['tmp'] / 'audit.csv', n=20)
    _fill(s, lambda p: 'owl')
    with pytest.raises(ValueError, match='pass classes= to allow one the model never predicts'):
        score_audit(setup['preds'], s)
    res = score_audit(setup['preds'], s, classes=CLASSES + ['owl'])
    assert res.correct == 0 and res.lo == 0.0 and 'owl' in res.confusion.classes


def test_score_without_metrics_or_with_damaged_metrics(setup):
    s = start_audit(setup['preds'], setup['tmp'] / 'audit.csv', n=20)
    _fill(s, setup['truth'].get)
    (setup['run'] / 'metrics.json').unlink()
    score_audit(setup['preds'], s, run_dir=setup['run'])
    assert (setup['run'] / 'audit.json').exists() and not (setup['run'] / 'metrics.json').exists()
    (setup['run'] / 'metrics.json').write_text('{"acc": 0.9')              # damaged: warned about, left as it is
    with pytest.warns(UserWarning, match='left as it is'):
        score_audit(setup['preds'], s, run_dir=setup['run'])
    assert (setup['run'] / 'metrics.json').read_text() == '{"acc": 0.9'
    with pytest.raises(FileNotFoundError, match='pass the folder `as3l train` wrote'):
        score_audit(setup['preds'], s, run_dir=setup['tmp'] / 'nope')


# ---- merging audited labels into the next training run
def test_merge_audit_labels(setup):
    s = start_audit(setup['preds'], setup['tmp'] / 'audit.csv', n=30, exclude=setup['labels'])
    drawn = _fill(s, setup['truth'].get)
    old = setup['labels'].read_text()
    out = setup['tmp'] / 'labels2.csv'
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        merge_audit_labels(setup['labels'], s, out)
    assert 'no longer an unbiased sample' in str(w[0].message) and f"exclude='{out}'" in str(w[0].message)
    lines = out.read_text().splitlines()
    assert lines[:21] == old.splitlines() and lines[21:] == [f"{p},{setup['truth'][p]}" for p in drawn]
    assert setup['labels'].read_text() == old                                  # the old sheet is untouched
    assert json.loads((setup['tmp'] / 'audit.sample.json').read_text())['merged_into'] == str(out)
    with pytest.raises(FileExistsError, match='choose a new file'):
        merge_audit_labels(setup['labels'], s, out)
    with pytest.raises(ValueError, match='is one of the inputs'):
        merge_audit_labels(setup['labels'], s, setup['labels'], overwrite=True)
    # predictions of a model trained on them: the spent audit says it is biased
    setup['preds'].write_text(setup['preds'].read_text().replace('0.5\n', '0.6\n'))
    res = score_audit(setup['preds'], s)
    assert not res.unbiased and 'NOT an unbiased estimate' in str(res) and res.to_dict()['unbiased'] is False
    fresh = start_audit(setup['preds'], setup['tmp'] / 'audit2.csv', n=50, exclude=out)
    assert not set(read_predictions(setup['preds'])) - set(setup['paths'])
    assert not {l.split(',')[0] for l in fresh.read_text().splitlines()[1:]} & {l.split(',')[0] for l in lines[1:]}


def test_merge_refuses_conflicting_labels(setup):
    s = setup['tmp'] / 'audit.csv'
    first = setup['paths'][0]                                               # labelled in to_label.csv
    other = 'dog' if setup['truth'][first] != 'dog' else 'cat'
    s.write_text(f'path,label\n{first},{other}\nim0100.png,\n')
    with pytest.raises(ValueError) as e:
        merge_audit_labels(setup['labels'], s, setup['tmp'] / 'l2.csv')
    assert f"row 2: '{first}' is '{other}' here but" in str(e.value) and 'row 3: empty label' in str(e.value)
    assert '\n' not in str(e.value) and not (setup['tmp'] / 'l2.csv').exists()


def test_score_without_the_sample_record(setup):
    "Only the sheet came back (e.g. uploaded to Colab alone): its rows are the sample, checked against the predictions."
    s = start_audit(setup['preds'], setup['tmp'] / 'audit.csv', n=20)
    drawn = _fill(s, setup['truth'].get)
    (setup['tmp'] / 'audit.sample.json').unlink()
    res = score_audit(setup['preds'], s)
    assert res.n == 20 and res.population is None and 'the images the sample was drawn from' in str(res)
    s.write_text(s.read_text() + 'elsewhere.png,cat\n')
    with pytest.raises(ValueError, match="row 22: no prediction for 'elsewhere.png'"):
        score_audit(setup['preds'], s)
