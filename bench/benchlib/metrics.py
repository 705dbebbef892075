"""What the benchmarks measure with labels: neighbour purity, 1-shot kNN, NMI, the prior's accuracy and ECE, means;
and the label-free confidence estimate of benchmark 16 (removed from the package: it missed by up to 23 points)."""
from __future__ import annotations

import numpy as np


def purity(f, y, k:int=10) -> float:
    "Mean fraction of each sample's k nearest cosine neighbours (itself excluded) that share its label."
    from as3l.cluster import knn
    _, nb = knn(f, k + 1)
    return float((y[nb[:, 1:]] == y[:, None]).mean())


def one_shot_knn(f_tr, y_tr, f_te, y_te, n_classes:int, draws:int=5) -> float:
    "1-NN accuracy on (f_te, y_te) from one random labelled image per class of the training features, mean of `draws` draws."
    from as3l.simsiam import knn_accuracy
    shots = []
    for s in range(draws):
        rng = np.random.default_rng(s)
        idx = np.array([rng.choice(np.flatnonzero(y_tr == c)) for c in range(n_classes)])
        shots.append(knn_accuracy(f_tr[idx], y_tr[idx], f_te, y_te, k=1))
    return float(np.mean(shots))


def feature_row(name, f_tr, f_te, y_tr, y_te, n_classes) -> dict:
    "10-NN purity, 1-label/class kNN (5 draws), k-means NMI (K = classes) of one feature set."
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score
    km = KMeans(n_classes, n_init=3, random_state=0).fit_predict(f_tr)
    return {'features': name, 'purity10': purity(f_tr, y_tr), 'knn_1shot': one_shot_knn(f_tr, y_tr, f_te, y_te, n_classes),
            'nmi': float(normalized_mutual_info_score(y_tr, km))}


def prior_metrics(prior, y, idx) -> dict:
    "Accuracy and ECE of a prior's argmax on the images outside `idx` (fractions)."
    from as3l.propagate import expected_calibration_error, prior_accuracy, unlabeled_mask
    um = unlabeled_mask(len(y), idx)
    return {'prior_acc': prior_accuracy(prior, y, um), 'ece': expected_calibration_error(prior[um], y[um])}


def mean_std(v) -> tuple[float, float]:
    "(mean, sample std) of the values that are not None; (nan, nan) when none are."
    v = np.asarray([a for a in v if a is not None], float)
    return (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0) if len(v) else (float('nan'), float('nan'))


def mean_where(rows:list[dict], key:str, **where) -> float:
    "Mean of `key` over the rows whose fields equal `where` (nan when none do)."
    v = [r[key] for r in rows if all(r.get(k) == w for k, w in where.items())]
    return float(np.mean(v)) if v else float('nan')


def centroid_update(x:np.ndarray, assign:np.ndarray, k:int) -> tuple[np.ndarray, np.ndarray]:
    "Cluster means (k, d) float32 and counts (k,) of `x` under `assign` (a sparse membership product, as as3l's k-means)."
    import scipy.sparse as sp
    n = len(x)
    m = sp.csr_matrix((np.ones(n, np.float32), (assign, np.arange(n))), shape=(k, n))
    counts = np.bincount(assign, minlength=k)
    return (np.asarray(m @ x) / np.maximum(counts, 1)[:, None]).astype(np.float32), counts


# ---- the label-free confidence estimate (benchmark 16; was as3l.pipeline's until issue #30) ----
def estimated_accuracy(prob:np.ndarray, prior:np.ndarray) -> float:
    "Label-free accuracy estimate: the mean probability a calibrated prior gives each image's predicted class."
    prob, prior = np.asarray(prob), np.asarray(prior)
    if prob.shape != prior.shape: raise ValueError(f"prob {prob.shape} and prior {prior.shape} must have the same shape")
    return float(prior[np.arange(len(prob)), prob.argmax(1)].mean())


def apply_temperature(prob:np.ndarray, t:float) -> np.ndarray:
    "softmax(log(prob) / t): the same argmax, confidences tempered (t > 1 softens, < 1 sharpens)."
    z = np.log(np.clip(np.asarray(prob, np.float64), 1e-12, 1.0)) / t
    z = np.exp(z - z.max(1, keepdims=True))
    return (z / z.sum(1, keepdims=True)).astype(np.float32)


def fit_temperature(prob:np.ndarray, mean_confidence:float, lo:float=1e-2, hi:float=1e3) -> float:
    "The temperature whose tempered probabilities have `mean_confidence` as their mean max (bisection on log t)."
    c = prob.shape[1]
    target = float(np.clip(mean_confidence, 1.0 / c + 1e-6, 1.0 - 1e-6))
    mean = lambda t: apply_temperature(prob, t).max(1).mean()
    for _ in range(50):   # mean max-probability falls as t rises
        t = float(np.sqrt(lo * hi))
        lo, hi = (t, hi) if mean(t) > target else (lo, t)
    return float(np.sqrt(lo * hi))
