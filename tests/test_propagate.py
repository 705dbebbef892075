"Tests for as3l.propagate: cluster prior, LLGC, prior metrics."
import time
import numpy as np
import pytest
from as3l.propagate import (calibrated_prior, cluster_prior, llgc_prior, knn_graph, prior_accuracy, prior_coverage,
                            expected_calibration_error, unlabeled_mask, plot_reliability, plot_accuracy_vs_confidence)


def blobs(n=600, k=4, d=16, spread=0.1, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((k, d)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    y = rng.integers(k, size=n)
    x = c[y] + spread * rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), y


def one_per_class(y, k, seed=0):
    rng = np.random.default_rng(seed)
    return np.array([rng.choice(np.flatnonzero(y == c)) for c in range(k)])


def test_cluster_prior_structure_and_accuracy():
    x, y = blobs()
    li = one_per_class(y, 4)
    p, cov = cluster_prior(x, li, y[li], 4, ks=(4, 8, 12), seed=0, return_coverage=True)
    assert p.shape == (600, 4) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-6)
    np.testing.assert_array_equal(p[li], np.eye(4, dtype=np.float32)[y[li]])
    assert cov.all()   # the K=4 run leaves no seedless cluster
    assert prior_accuracy(p, y, unlabeled_mask(600, li)) > 0.95


def test_cluster_prior_deterministic():
    x, y = blobs()
    li = one_per_class(y, 4)
    a = cluster_prior(x, li, y[li], 4, ks=(4, 10, 20), seed=3)
    b = cluster_prior(x, li, y[li], 4, ks=(4, 10, 20), seed=3)
    np.testing.assert_array_equal(a, b)


def test_cluster_prior_seed_groups():
    x, y = blobs(k=4, spread=0.3)
    li = one_per_class(y, 4)
    for ks in ((4, 8, 12), (6,)):   # one label per class: both seedings are the same algorithm
        np.testing.assert_array_equal(cluster_prior(x, li, y[li], 4, ks=ks, seed=1),
                                      cluster_prior(x, li, y[li], 4, ks=ks, seed=1, seed_groups='class'))
    rng = np.random.default_rng(0)
    l3 = np.concatenate([rng.choice(np.flatnonzero(y == c), 3, replace=False) for c in range(4)])   # m = 12
    ps, cov = cluster_prior(x, l3, y[l3], 4, ks=(8, 12), seed=0, return_coverage=True)
    assert cov.all()            # K <= m: every cluster holds seeds, so every sample gets votes
    np.testing.assert_array_equal(ps[l3], np.eye(4, dtype=np.float32)[y[l3]])
    np.testing.assert_allclose(ps.sum(1), 1, atol=1e-6)
    np.testing.assert_array_equal(ps, cluster_prior(x, l3, y[l3], 4, ks=(8, 12), seed=0))   # deterministic
    assert prior_accuracy(ps, y, unlabeled_mask(600, l3)) > 0.9
    with pytest.raises(ValueError, match="'sample' or 'class'"): cluster_prior(x, li, y[li], 4, seed_groups='x')


def test_cluster_prior_uniform_unreached_rows():
    x = np.array([[0.0], [0.1], [10.0], [10.1], [20.0], [20.1], [30.0], [30.1]], np.float32)
    p, cov = cluster_prior(x, [0, 2], [1, 2], num_classes=3, ks=(4,), return_coverage=True)
    np.testing.assert_array_equal(cov, [True] * 4 + [False] * 4)
    np.testing.assert_allclose(p[4:], 1 / 3)
    assert prior_coverage(p) == 0.5
    np.testing.assert_array_equal(p[[1, 3]].argmax(1), [1, 2])
    # labelled rows are one-hot
    np.testing.assert_array_equal(p[0], [0, 1, 0])


def test_cluster_prior_votes_summed_over_runs():
    # group C sits between A and B; rows stay normalised and the labelled groups stay one-hot over mixed runs
    x = np.array([[0.0], [0.1], [10.0], [10.1], [4.0], [4.1]], np.float32)
    p = cluster_prior(x, [0, 2], [0, 1], num_classes=2, ks=(2, 2, 3), seed=0)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-6)
    assert p[1, 0] == 1 and p[3, 1] == 1


def test_cluster_prior_raises_k_below_classes():
    x, y = blobs(k=4)
    li = one_per_class(y, 4)
    p = cluster_prior(x, li, y[li], 4, ks=(2,))   # K=2 < 4 seeded classes: raised to 4
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-6)


@pytest.mark.parametrize("kw,msg", [
    (dict(ks=()), "ks is empty"),
    (dict(ks=(601,)), "larger than the 600 samples"),
    (dict(ks=(0,)), "positive integer"),
    (dict(labeled_y=np.array([0, 1, 2, 4])), r"\[0, num_classes=4\)"),
    (dict(labeled_y=np.array([0, 1, 2, -1])), r"\[0, num_classes=4\)"),
    (dict(unreached='x'), "unreached"),
])
def test_cluster_prior_errors(kw, msg):
    x, y = blobs()
    li = one_per_class(y, 4)
    args = dict(f_fine=x, labeled_idx=li, labeled_y=y[li], num_classes=4)
    args.update(kw)
    with pytest.raises(ValueError, match=msg): cluster_prior(**args)


def test_cluster_prior_nan_features():
    x, y = blobs()
    x[5, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"): cluster_prior(x, [0, 1], [0, 1], 4, ks=(4,))


def test_llgc_prior():
    x, y = blobs()
    li = one_per_class(y, 4)
    p = llgc_prior(x, li, y[li], 4, k=10)
    assert p.shape == (600, 4) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    np.testing.assert_array_equal(p[li].argmax(1), y[li])
    assert prior_accuracy(p, y, unlabeled_mask(600, li)) > 0.95
    np.testing.assert_array_equal(p, llgc_prior(x, li, y[li], 4, k=10))
    W = knn_graph(x, k=5)
    assert W.shape == (600, 600) and (W != W.T).nnz == 0 and W.nnz <= 2 * 5 * 600
    with pytest.raises(ValueError, match="alpha"): llgc_prior(x, li, y[li], 4, alpha=1.0)


def test_calibrated_prior_rule():
    "One label per class: the even mix of uniform-voting clusters and LLGC; from two per class: LLGC's scores alone."
    x, y = blobs(spread=0.6, seed=3)                  # overlapping blobs: the paper's prior is sure of wrong rows
    li = one_per_class(y, 4)
    cal = calibrated_prior(x, li, y[li], 4, ks=(4, 8, 12), seed=0, k=10)
    votes = cluster_prior(x, li, y[li], 4, ks=(4, 8, 12), seed=0, unreached='uniform')
    spread = llgc_prior(x, li, y[li], 4, k=10)
    np.testing.assert_allclose(cal, 0.5 * votes + 0.5 * spread, atol=1e-6)
    np.testing.assert_allclose(cal.sum(1), 1, atol=1e-5)
    assert cal.dtype == np.float32 and (cal[li].argmax(1) == y[li]).all()
    um = unlabeled_mask(len(y), li)
    paper = cluster_prior(x, li, y[li], 4, ks=(4, 8, 12), seed=0)
    assert expected_calibration_error(cal[um], y[um]) < expected_calibration_error(paper[um], y[um])
    two = np.concatenate([li, one_per_class(y, 4, seed=1)])
    np.testing.assert_allclose(calibrated_prior(x, two, y[two], 4, ks=(4, 8, 12), k=10), llgc_prior(x, two, y[two], 4, k=10))
    with pytest.raises(ValueError, match=r"mix must lie in \[0, 1\], got 2"):
        calibrated_prior(x, li, y[li], 4, mix=2)


def test_metrics():
    rng = np.random.default_rng(0)
    n, C = 30_000, 4
    conf = rng.uniform(0.25, 1, n); pred = rng.integers(C, size=n)
    prob = np.repeat(((1 - conf) / (C - 1))[:, None], C, 1); prob[np.arange(n), pred] = conf
    y = np.where(rng.random(n) < conf, pred, (pred + 1) % C)
    assert expected_calibration_error(prob, y) < 0.02
    onehot = np.eye(C)[pred]
    assert abs(expected_calibration_error(onehot, y) - (1 - (y == pred).mean())) < 1e-9
    y_unknown = y.copy(); y_unknown[:10] = -1
    assert prior_accuracy(onehot, y_unknown) == pytest.approx((y == pred)[10:].mean())
    assert prior_accuracy(np.eye(3), np.array([0, 2, 2]), mask=np.array([1, 2])) == 0.5
    assert prior_coverage(np.array([[0.25] * 4, [0.7, 0.1, 0.1, 0.1]])) == 0.5
    with pytest.raises(ValueError, match="NaN"): expected_calibration_error(np.full((2, 2), np.nan), np.array([0, 1]))
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    ax = plot_reliability(prob[:500], y[:500]); assert 'ECE' in ax.get_title()
    plot_accuracy_vs_confidence(prob[:500], y[:500], label='toy'); plt.close('all')


def test_no_nxn_20k():
    "20k x 64: cluster prior over 6 K values and LLGC run fast (sparse / faiss only)."
    x, y = blobs(n=20_000, k=10, d=64, spread=0.3)
    li = one_per_class(y, 10)
    t0 = time.perf_counter()
    p = cluster_prior(x, li, y[li], 10, seed=0)
    q = llgc_prior(x, li, y[li], 10, k=10)
    assert time.perf_counter() - t0 < 90
    assert p.shape == q.shape == (20_000, 10)
