"""The benchmarks' images and features: digits, Fashion-MNIST, the CIFAR-10 subset (each skipped with a line when
absent; nothing is downloaded), CIFAR images or noise for the speed benchmarks, pixels, synthetic clusters."""
from __future__ import annotations

import numpy as np

from .report import SHARED_DATA

CIFAR = SHARED_DATA / 'cifar10_10k.npz'   # 10k train / 2k test real CIFAR-10 images, when present
DATASETS = ('digits', 'fashion_mnist', 'cifar10_10k')
D, CLASSES, BUDGET = 512, 10, 10          # the synthetic features of benchmarks 4 and 11


def load(name:str, # 'digits', 'fashion_mnist' or 'cifar10_10k'
         n_train:int=10_000, n_test:int=2_000, # larger splits are cut to seeded (seed 0) random subsets of these sizes
        ):
    "(train, test) ImageData of a benchmark data set, None when its files are absent (`absent(name)` says where)."
    from as3l.data import load_dataset
    if name not in DATASETS: raise ValueError(f"unknown benchmark data set {name!r}; choose one of {DATASETS}")
    if name == 'cifar10_10k':
        if not CIFAR.exists(): return None
        train, test = load_dataset('npz', root=str(CIFAR))
    else:
        try: train, test = load_dataset(name)   # Fashion-MNIST: /usr/share/datasets/fashion-mnist (dataset-fashion-mnist)
        except (FileNotFoundError, ValueError): return None
    rng = np.random.default_rng(0)
    pick = lambda d, n: d if len(d) <= n else d.subset(np.sort(rng.choice(len(d), n, replace=False)))
    return pick(train, n_train), pick(test, n_test)


def absent(name:str) -> str:
    "The line a benchmark prints when data set `name` is not on this machine."
    where = {'fashion_mnist': 'apt-get install dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)',
             'cifar10_10k': f'{CIFAR} (read when present)'}.get(name, 'ships with scikit-learn')
    return f"# SKIP {name}: not found ({where}; nothing is downloaded)"


def cifar_or_noise(n:int, seed:int=0) -> tuple[np.ndarray, np.ndarray, str]:
    "(x NHWC uint8, y, source): the first `n` CIFAR subset training images, or uniform noise of that shape when absent."
    if CIFAR.exists():
        with np.load(CIFAR) as z: return np.ascontiguousarray(z['x_train'][:n]), z['y_train'][:n].astype(np.int64), 'cifar10_10k'
    x = np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    return x, np.arange(n, dtype=np.int64) % 10, f'uniform noise ({CIFAR.name} absent)'


def joined(train, test):
    "train and test as one ImageData (train first): for label-free steps that see both, e.g. one PCA, LabelSpreading."
    import dataclasses, torch
    return dataclasses.replace(train, x=torch.cat([train.x, test.x]), y=torch.cat([train.y, test.y]), paths=None)


def pixels(train, test, dims:int=50):
    "as3l's pixel features (`features='pixels'`: PCA-`dims` of the raw pixels) of train and test, one PCA over both (no labels)."
    from as3l.features import pixel_features
    z = pixel_features(joined(train, test), dims)
    return z[:len(train)], z[len(train):]


def clustered_features(n:int, d:int=D, classes:int=CLASSES, noise:float=1.0, seed:int=0, chunk:int=20_000):
    "Gaussian classes (per-dim noise `noise` around N(0,1) centres), L2-normalised float32, built in chunks (no float64 copy)."
    rng = np.random.default_rng(seed)
    cent = rng.standard_normal((classes, d)).astype(np.float32)
    y = rng.integers(classes, size=n)
    x = np.empty((n, d), np.float32)
    for s in range(0, n, chunk):
        b = cent[y[s:s + chunk]] + noise * rng.standard_normal((len(y[s:s + chunk]), d), dtype=np.float32)
        x[s:s + chunk] = b / np.linalg.norm(b, axis=1, keepdims=True)
    return x, y.astype(np.int64)
