"Contracts of stage 2 (as3l.active): signatures, determinism, errors, coverage on separable data, no N x N."
import inspect
import time

import numpy as np
import pytest

from as3l.active import (STRATEGIES, SelectionReport, choose_from_groups, class_coverage, finetune_features,
                         proposed_selection, select, select_coreset, select_probcover)
from as3l.testing import make_blobs


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n=400, k=5, d=12, spread=0.5, seed=3)


def _kw(name, y):
    return dict(labels=y) if name == "stratified" else dict(n_classes=5) if name == "probcover" else {}


def test_registry_has_every_strategy():
    assert {"random", "stratified", "kmedoids", "coreset", "typiclust", "probcover", "proposed"} <= set(STRATEGIES)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_signature(name):
    params = list(inspect.signature(STRATEGIES[name]).parameters)
    assert len(params) >= 3 and params[1:3] == ["budget", "seed"], params


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_deterministic_unique_sorted(name, blobs):
    x, y = blobs
    a = select(name, x, 7, seed=1, **_kw(name, y))
    b = select(name, x, 7, seed=1, **_kw(name, y))
    assert a.dtype == np.int64 and a.shape == (7,)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a)) == 7 and (np.diff(a) > 0).all()
    assert a.min() >= 0 and a.max() < len(x)


@pytest.mark.parametrize("name", ["kmedoids", "typiclust", "multicluster", "proposed"])
def test_full_coverage_on_separable_blobs(name):
    x, y = make_blobs(n=500, k=5, d=16, spread=0.3, seed=0)
    for s in range(3):
        assert class_coverage(y, select(name, x, 5, seed=s)) == 5


def test_proposed_beats_random_on_unbalanced_blobs():
    x, y = make_blobs(n=800, k=8, d=16, spread=0.5, weights=[30, 20, 10, 8, 8, 8, 8, 8], seed=2)
    prop = np.mean([class_coverage(y, select("proposed", x, 8, seed=s)) for s in range(3)])
    rand = np.mean([class_coverage(y, select("random", x, 8, seed=s)) for s in range(3)])
    assert prop >= rand + 1, (prop, rand)   # lead 3.3-4.0 over data seeds 2-6, same on native/AVX2/SSE4.1 paths


def test_errors(blobs):
    x, y = blobs
    with pytest.raises(ValueError, match="0 < budget"): select("random", x, 0)
    with pytest.raises(ValueError, match="0 < budget"): select("random", x, len(x))
    with pytest.raises(ValueError, match="0 < budget"): select("coreset", x, -3)
    bad = x.copy(); bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"): select("kmedoids", bad, 3)
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"): select("proposed", bad, 3)
    with pytest.raises(ValueError, match="typiclust"): select("nope", x, 3)
    with pytest.raises(ValueError, match="oracle"): select("stratified", x, 3)
    with pytest.raises(ValueError, match="2-D"): select("random", x[0], 3)


def test_finetune_features(blobs):
    x, _ = blobs
    log = []
    f = finetune_features(x, k=5, n_clusterings=3, epochs=10, seed=0, log=log)
    assert f.dtype == np.float32 and f.shape == x.shape
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1, atol=1e-5)
    assert len(log) == 10 and log[-1] < log[0]
    np.testing.assert_array_equal(f, finetune_features(x, k=5, n_clusterings=3, epochs=10, seed=0))
    f0 = finetune_features(x, k=5, n_clusterings=2, epochs=0, seed=0)     # identity init: no training = f_self
    np.testing.assert_allclose(f0, x, atol=1e-5)


def test_finetune_max_steps_caps_the_adam_steps(blobs):
    "max_steps stops mid-epoch: a cap of one epoch's steps is one epoch; a cap above all epochs changes nothing."
    x, _ = blobs
    per_epoch = -(-len(x) // 64)
    one, log = finetune_features(x, 5, 2, epochs=10, batch_size=64, seed=0), []
    capped = finetune_features(x, 5, 2, epochs=10, max_steps=per_epoch, batch_size=64, seed=0, log=log)
    assert len(log) == 1   # the loss is logged for the one (partial) epoch that ran
    np.testing.assert_array_equal(capped, finetune_features(x, 5, 2, epochs=1, batch_size=64, seed=0))
    np.testing.assert_array_equal(one, finetune_features(x, 5, 2, epochs=10, max_steps=10 * per_epoch + 5, batch_size=64, seed=0))
    half = finetune_features(x, 5, 2, epochs=10, max_steps=per_epoch // 2, batch_size=64, seed=0)
    assert not np.array_equal(half, capped) and not np.allclose(half, x, atol=1e-5)


def test_proposed_selection_returns_f_fine(blobs):
    x, _ = blobs
    idx, f = proposed_selection(x, 6, seed=0, finetune_epochs=5)
    assert f.shape == x.shape and len(idx) == 6
    np.testing.assert_array_equal(idx, select("proposed", x, 6, seed=0, finetune_epochs=5))


def test_choose_from_groups_rules():
    f = np.array([[0, 0], [0.1, 0], [0, 0.1], [5, 5], [5.1, 5], [9, 0], [20, 20]], np.float32)
    g = np.array([0, 0, 0, 1, 1, 2, 3])                                   # groups 2 and 3 are singletons
    np.testing.assert_array_equal(choose_from_groups(f, g, 2), [0, 3])
    # only two groups of >= 2 samples: the third label is the farthest sample (k-center greedy), not a singleton
    np.testing.assert_array_equal(choose_from_groups(f, g, 3), [0, 3, 6])
    # de-duplication: groups 0 and 1 share a cluster in 2 of 3 runs, so group 2 (smaller) is labelled first
    a = np.array([[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 1], [0, 0, 1], [1, 1, 2], [1, 1, 2]])
    g2 = np.array([0, 0, 0, 1, 1, 2, 2])
    f2 = f.copy(); f2[6] = [9.2, 0]
    np.testing.assert_array_equal(choose_from_groups(f2, g2, 2, assigns=a), [0, 5])
    np.testing.assert_array_equal(choose_from_groups(f2, g2, 2), [0, 3])          # plain rule: two largest
    np.testing.assert_array_equal(choose_from_groups(f2, g2, 3, assigns=a), [0, 3, 5])  # relaxed when needed


def test_probcover_respects_given_delta(blobs):
    x, _ = blobs
    tiny = select_probcover(x, 5, seed=0, delta=1e-6)                   # every ball holds only its centre
    assert len(tiny) == 5
    with pytest.raises(ValueError, match="max_edges"): select_probcover(x, 5, seed=0, delta=10.0, max_edges=1000)


def test_coreset_scales_without_nxn():
    x = np.random.default_rng(0).normal(size=(20_000, 32)).astype(np.float32)
    t = time.time()
    idx = select_coreset(x, 50, seed=0)
    assert len(idx) == 50 and time.time() - t < 20                     # an N x N float32 matrix would be 1.6 GB


def test_class_coverage_and_report(blobs):
    x, y = blobs
    assert class_coverage(np.array([0, 1, 1, 2]), [1, 2]) == 1
    idx = select("stratified", x, 10, seed=0, labels=y)
    rep = SelectionReport("stratified", idx, y)
    assert rep.coverage == 5 and rep.counts.sum() == 10
    md = rep._repr_markdown_()
    assert "5/5" in md and "| class |" in md
