"""as3l.data: every dataset name loads offline from tiny fake files in its real on-disk format; bad input gives
one-line errors (the batched augmentations are tested in tests/test_augment.py)."""
import gzip, hashlib, pickle, struct, warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import as3l.data as D
from as3l.data import load_dataset, read_idx, load_image_folder, DATASETS
from as3l.images import ImageData, from_arrays, split_labeled, mask_labels, normalize, batch_iterator, TensorBatches

RNG = np.random.default_rng(0)


def _md5(p): return hashlib.md5(Path(p).read_bytes()).hexdigest()

def _one_line(e): assert '\n' not in str(e.value), str(e.value)


# ---------------------------------------------------------------- fake torchvision files
def write_cifar(root, name='cifar10', n_train=(3, 2, 2, 2, 3), n_test=4):
    "CIFAR pickles exactly as in the official archives (data (n,3072) uint8 row-major CHW, labels list)."
    if name == 'cifar10':
        folder, lab, tr_names, meta = Path(root)/'cifar-10-batches-py', 'labels', [f'data_batch_{i}' for i in range(1, 6)], 'batches.meta'
        metad, k = {'label_names': [f'c{i}' for i in range(10)], 'num_cases_per_batch': 3}, 10
    else:
        folder, lab, tr_names, meta = Path(root)/'cifar-100-python', 'fine_labels', ['train'], 'meta'
        metad, k = {'fine_label_names': [f'f{i}' for i in range(100)], 'coarse_label_names': [f'k{i}' for i in range(20)]}, 100
        n_train = (sum(n_train),)
    folder.mkdir(parents=True)
    xs, ys = {}, {}
    for split, names, ns in (('train', tr_names, n_train), ('test', ['test_batch' if name == 'cifar10' else 'test'], (n_test,))):
        xl, yl = [], []
        for fn, n in zip(names, ns):
            x = RNG.integers(0, 256, (n, 3072), dtype=np.uint8); y = RNG.integers(0, k, n).tolist()
            d = {'data': x, lab: y, 'batch_label': fn}
            if name == 'cifar100': d['coarse_labels'] = [v // 5 for v in y]
            with open(folder/fn, 'wb') as f: pickle.dump(d, f)
            xl.append(x.reshape(-1, 3, 32, 32)); yl += y
        xs[split], ys[split] = np.concatenate(xl), np.array(yl)
    with open(folder/meta, 'wb') as f: pickle.dump(metad, f)
    return folder, xs, ys


def write_stl(root, n_train=4, n_test=3, n_unl=5):
    "STL-10 binaries: uint8 images stored (N,3,96,96) column-major, labels 1..10, class_names.txt."
    folder = Path(root)/'stl10_binary'; folder.mkdir(parents=True)
    imgs = {}
    for split, n in (('train', n_train), ('test', n_test), ('unlabeled', n_unl)):
        x = RNG.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8)           # the images we mean (N,C,H,W)
        x.transpose(0, 1, 3, 2).tofile(folder/f'{split}_X.bin')            # stored column-major
        imgs[split] = x
        if split != 'unlabeled':
            y = RNG.integers(1, 11, n, dtype=np.uint8); y.tofile(folder/f'{split}_y.bin'); imgs[split + '_y'] = y.astype(np.int64) - 1
    (folder/'class_names.txt').write_text('\n'.join(['airplane', 'bird', 'car', 'cat', 'deer', 'dog', 'horse', 'monkey', 'ship', 'truck']) + '\n')
    (folder/'fold_indices.txt').write_text('0 1\n' * 10)
    return folder, imgs


def _idx_bytes(arr):
    return b'\x00\x00\x08' + bytes([arr.ndim]) + struct.pack(f'>{arr.ndim}I', *arr.shape) + arr.tobytes()

def write_idx_set(folder, gz, n_train=6, n_test=4):
    "Fashion-MNIST IDX files: torchvision's raw/ layout (gz=False) or Debian's gzipped layout (gz=True)."
    folder = Path(folder); folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for pre, n in (('train', n_train), ('t10k', n_test)):
        x = RNG.integers(0, 256, (n, 28, 28), dtype=np.uint8); y = RNG.integers(0, 10, n, dtype=np.uint8)
        for kind, arr in (('images-idx3-ubyte', x), ('labels-idx1-ubyte', y)):
            raw = _idx_bytes(arr)
            if gz: (folder/f'{pre}-{kind}.gz').write_bytes(gzip.compress(raw))
            else: (folder/f'{pre}-{kind}').write_bytes(raw)
        out[pre] = (x, y)
    return out


# ---------------------------------------------------------------- registry datasets
def test_registry_names():
    assert set(DATASETS) == {'digits', 'cifar10', 'cifar100', 'stl10', 'fashion_mnist', 'folder', 'npz', 'arrays'}


def test_digits_fixed_split():
    tr, te = load_dataset('digits')
    assert (len(tr), len(te)) == (1437, 360)
    assert tr.x.dtype == torch.uint8 and tr.image_shape == (1, 8, 8) and int(tr.x.max()) == 255 and int(tr.x.min()) == 0
    assert tr.hflip is False and te.hflip is False and tr.num_classes == 10
    assert torch.equal(load_dataset('digits')[1].x, te.x)                   # fixed split
    assert np.bincount(te.y.numpy()).min() >= 35                           # stratified
    assert te.mean == tr.mean and len(tr.mean) == 1


def test_cifar10_matches_torchvision(tmp_path):
    folder, xs, ys = write_cifar(tmp_path, 'cifar10')
    tr, te = load_dataset('cifar10', root=tmp_path)
    assert tr.x.shape == (12, 3, 32, 32) and te.x.shape == (4, 3, 32, 32)
    assert torch.equal(tr.x, torch.from_numpy(xs['train'])) and tr.y.tolist() == ys['train'].tolist()
    assert tr.classes[:2] == ['c0', 'c1'] and tr.mean == D.DATASET_INFO['cifar10']['mean'] and tr.hflip
    # torchvision reads the same files the same way (its md5 list patched for our fake files)
    from torchvision.datasets import CIFAR10
    class Fake(CIFAR10):
        train_list = [[f'data_batch_{i}', _md5(folder/f'data_batch_{i}')] for i in range(1, 6)]
        test_list = [['test_batch', _md5(folder/'test_batch')]]
        meta = {**CIFAR10.meta, 'md5': _md5(folder/'batches.meta')}
    tv = Fake(str(tmp_path), train=True, download=False)
    assert torch.equal(torch.from_numpy(tv.data).permute(0, 3, 1, 2), tr.x) and list(tv.targets) == tr.y.tolist()


def test_cifar100(tmp_path):
    _, xs, ys = write_cifar(tmp_path, 'cifar100')
    tr, te = load_dataset('cifar100', root=tmp_path)
    assert tr.num_classes == 100 and torch.equal(te.x, torch.from_numpy(xs['test'])) and te.y.tolist() == ys['test'].tolist()
    assert tr.mean == D.DATASET_INFO['cifar100']['mean']


def test_stl10_unlabeled_matches_torchvision(tmp_path):
    folder, imgs = write_stl(tmp_path)
    tr, te = load_dataset('stl10', root=tmp_path)
    assert tr.x.shape == (4, 3, 96, 96) and torch.equal(tr.x, torch.from_numpy(imgs['train'])) and tr.y.tolist() == imgs['train_y'].tolist()
    assert torch.equal(te.x, torch.from_numpy(imgs['test'])) and te.classes[0] == 'airplane'
    tru, _ = load_dataset('stl10', root=tmp_path, unlabeled=True)
    assert len(tru) == 9 and tru.n_labeled == 4 and (tru.y[4:] == -1).all() and torch.equal(tru.x[4:], torch.from_numpy(imgs['unlabeled']))
    from torchvision.datasets import STL10
    class Fake(STL10):
        train_list = [[f, _md5(folder/f)] for f in ('train_X.bin', 'train_y.bin', 'unlabeled_X.bin')]
        test_list = [[f, _md5(folder/f)] for f in ('test_X.bin', 'test_y.bin')]
    tv = Fake(str(tmp_path), split='train+unlabeled', download=False)
    assert torch.equal(torch.from_numpy(tv.data), tru.x) and tv.labels.tolist() == tru.y.tolist()
    small, _ = load_dataset('stl10', root=tmp_path, image_size=32)
    assert small.image_shape == (3, 32, 32) and small.x.dtype == torch.uint8


def test_fashion_mnist_torchvision_layout(tmp_path):
    ref = write_idx_set(tmp_path/'FashionMNIST'/'raw', gz=False)
    tr, te = load_dataset('fashion_mnist', root=tmp_path)
    assert tr.x.shape == (6, 1, 28, 28) and torch.equal(tr.x[:, 0], torch.from_numpy(ref['train'][0]))
    assert te.y.tolist() == ref['t10k'][1].tolist() and tr.classes[0] == 'T-shirt/top'
    from torchvision.datasets import FashionMNIST
    tv = FashionMNIST(str(tmp_path), train=True, download=False)
    assert torch.equal(tv.data, tr.x[:, 0]) and tv.targets.tolist() == tr.y.tolist()


def test_fashion_mnist_debian_layout(tmp_path, monkeypatch):
    ref = write_idx_set(tmp_path/'debian', gz=True)
    tr, te = load_dataset('fashion_mnist', root=tmp_path/'debian')                 # root pointing at the .gz files
    assert torch.equal(te.x[:, 0], torch.from_numpy(ref['t10k'][0]))
    monkeypatch.setattr(D, 'FASHION_MNIST_SYSTEM_DIR', tmp_path/'debian')           # found as the system install
    tr2, _ = load_dataset('fashion_mnist', root=tmp_path/'empty')
    assert torch.equal(tr2.x, tr.x) and tr2.y.tolist() == ref['train'][1].tolist()


def test_read_idx_errors(tmp_path):
    (tmp_path/'x').write_bytes(b'\x08\x03\x00\x00junk')
    with pytest.raises(ValueError, match='not an IDX') as e: read_idx(tmp_path/'x')
    _one_line(e)


def _png(path, size=(10, 12), color=True):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = RNG.integers(0, 256, (size[1], size[0], 3) if color else (size[1], size[0]), dtype=np.uint8)
    Image.fromarray(a).save(path)
    return a

def test_folder_class_subfolders(tmp_path):
    for c in ('b_dog', 'a_cat'):
        for i in range(2): _png(tmp_path/'imgs'/c/f'{i}.png')
    _png(tmp_path/'imgs'/'loose.png')                                              # a loose image: unlabelled
    tr, te = load_dataset('folder', root=tmp_path/'imgs', image_size=8)
    assert te is None and tr.classes == ['a_cat', 'b_dog'] and tr.image_shape == (3, 8, 8)
    assert sorted(tr.y.tolist()) == [-1, 0, 0, 1, 1] and len(tr.paths) == 5
    assert {Path(p).name for p, y in zip(tr.paths, tr.y.tolist()) if y == -1} == {'loose.png'}
    g, _ = load_dataset('folder', root=tmp_path/'imgs', image_size=(6, 4), mode='L')
    assert g.image_shape == (1, 6, 4) and len(g.mean) == 1


def test_folder_train_test_and_same_size(tmp_path):
    a = _png(tmp_path/'ds'/'train'/'x'/'0.png'); _png(tmp_path/'ds'/'train'/'y'/'0.png'); _png(tmp_path/'ds'/'test'/'y'/'1.png')
    tr, te = load_dataset('folder', root=tmp_path/'ds')                            # all 10x12: no resize needed
    assert tr.image_shape == (3, 12, 10) and te.y.tolist() == [1] and te.mean == tr.mean
    assert torch.equal(tr.x[0], torch.from_numpy(a).permute(2, 0, 1))             # exact pixels without image_size


def test_folder_flat_unlabelled(tmp_path):
    for i in range(3): _png(tmp_path/'flat'/f'{i}.jpg', color=False)
    tr, _ = load_dataset('folder', root=tmp_path/'flat', image_size=16)
    assert tr.classes == [] and tr.y.tolist() == [-1, -1, -1] and tr.num_classes == 0 and tr.n_labeled == 0


def test_folder_corrupt_file_skipped(tmp_path):
    for i in range(2): _png(tmp_path/'c'/'k'/f'{i}.png')
    (tmp_path/'c'/'k'/'bad.png').write_bytes(b'\x89PNG\r\n\x1a\n broken')
    with pytest.warns(UserWarning, match='bad.png'):
        tr, _ = load_dataset('folder', root=tmp_path/'c', image_size=8)
    assert len(tr) == 2 and not any('bad.png' in p for p in tr.paths)


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist') as e: load_dataset('folder', root=tmp_path/'nope')
    _one_line(e)
    (tmp_path/'empty'/'sub').mkdir(parents=True); (tmp_path/'empty'/'notes.txt').write_text('hi')
    with pytest.raises(ValueError, match='no images') as e: load_dataset('folder', root=tmp_path/'empty')
    _one_line(e)
    _png(tmp_path/'mixed'/'a.png', size=(8, 8)); _png(tmp_path/'mixed'/'b.png', size=(9, 8))
    with pytest.raises(ValueError, match='image_size') as e: load_dataset('folder', root=tmp_path/'mixed')
    _one_line(e)
    (tmp_path/'allbad').mkdir(); (tmp_path/'allbad'/'x.png').write_bytes(b'nope')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(ValueError, match='could be read'): load_dataset('folder', root=tmp_path/'allbad')


def test_npz(tmp_path):
    x = RNG.integers(0, 256, (7, 9, 9, 3), dtype=np.uint8); y = np.array([0, 1, 2, 0, 1, 2, -1])
    np.savez(tmp_path/'a.npz', x=x, y=y)
    tr, te = load_dataset('npz', root=tmp_path/'a.npz')
    assert te is None and tr.image_shape == (3, 9, 9) and tr.y.tolist() == y.tolist() and tr.num_classes == 3
    np.savez(tmp_path/'b.npz', x=x[..., 0].astype(np.float32) / 255)                # unlabelled, float grey
    assert load_dataset('npz', root=tmp_path/'b.npz')[0].y.tolist() == [-1] * 7
    np.savez(tmp_path/'c.npz', x_train=x, y_train=y.clip(0), x_test=x[:2], y_test=y[:2], class_names=np.array(['p', 'q', 'r']))
    tr, te = load_dataset('npz', root=tmp_path/'c.npz')
    assert tr.classes == ['p', 'q', 'r'] and len(te) == 2 and te.mean == tr.mean
    np.savez(tmp_path/'d.npz', images=x)
    with pytest.raises(ValueError, match="no 'x'") as e: load_dataset('npz', root=tmp_path/'d.npz')
    _one_line(e)
    with pytest.raises(FileNotFoundError): load_dataset('npz', root=tmp_path/'missing.npz')


def test_arrays_nhwc_nchw_float():
    x = RNG.integers(0, 256, (5, 6, 6, 3), dtype=np.uint8)
    a = from_arrays(x, [0, 1, 0, 1, -1])
    b = from_arrays(torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255, [0, 1, 0, 1, -1])
    assert torch.equal(a.x, b.x) and a.image_shape == (3, 6, 6) and a.n_labeled == 4
    tr, te = load_dataset('arrays', x=x, y=[0, 1, 0, 1, -1], x_test=x[:2], y_test=[0, 1])
    assert torch.equal(tr.x, a.x) and te.mean == tr.mean
    with pytest.raises(ValueError, match=r'\[0, 1\]'): from_arrays(x.astype(np.float32))
    with pytest.raises(ValueError, match='labels'): from_arrays(x, [0, 1])


# ---------------------------------------------------------------- bad input
def test_unknown_name_and_option():
    with pytest.raises(ValueError, match='choose one of digits, cifar10, cifar100, stl10, fashion_mnist, folder, npz, arrays') as e:
        load_dataset('imagenet')
    _one_line(e)
    with pytest.raises(ValueError, match='valid options') as e: load_dataset('stl10', unlabelled=True)
    _one_line(e)


@pytest.mark.parametrize('name,expect', [('cifar10', 'cifar-10-batches-py'), ('cifar100', 'cifar-100-python'),
                                         ('stl10', 'stl10_binary'), ('fashion_mnist', 'FashionMNIST')])
def test_missing_torchvision_files(tmp_path, monkeypatch, name, expect):
    monkeypatch.setattr(D, 'FASHION_MNIST_SYSTEM_DIR', tmp_path/'no_system_copy')
    with pytest.raises(FileNotFoundError, match=expect) as e: load_dataset(name, root=tmp_path)
    _one_line(e)
    assert 'download=True' in str(e.value) and str(tmp_path) in str(e.value)


def test_failed_download_is_one_line(tmp_path, monkeypatch):
    import torchvision.datasets as tvd
    class Offline:
        def __init__(self, *a, **k): raise OSError('network is unreachable\nmore detail')
    monkeypatch.setattr(tvd, 'CIFAR10', Offline)
    with pytest.raises(RuntimeError, match='could not download cifar10') as e: load_dataset('cifar10', root=tmp_path, download=True)
    _one_line(e)


# ---------------------------------------------------------------- splits, normalisation, batches
def test_subset_split_mask():
    tr, _ = load_dataset('digits')
    lab, unl = split_labeled(tr, np.array([10, 3]))
    assert lab.y.tolist() == tr.y[[10, 3]].tolist() and len(unl) == len(tr) - 2 and unl.n_labeled == len(tr) - 2
    assert split_labeled(tr, [10, 3], hide_labels=True)[1].n_labeled == 0
    assert mask_labels(tr, [1, 2]).n_labeled == 2
    with pytest.raises(ValueError, match='no label'): split_labeled(mask_labels(tr, [1]), [1, 2])
    with pytest.raises(ValueError, match='out of range'): tr.subset([len(tr)])
    f = from_arrays(np.zeros((3, 4, 4), np.uint8), paths=['a', 'b', 'c'])
    assert f.subset([2, 0]).paths == ['c', 'a']


def test_normalize():
    tr, _ = load_dataset('digits')
    z = normalize(tr.x, tr)
    assert z.dtype == torch.float32 and abs(z.mean().item()) < 1e-3 and abs(z.std().item() - 1) < 1e-2
    assert torch.allclose(normalize(tr.x.float() / 255, (tr.mean, tr.std)), z)


def test_batch_iterator_and_tensor_batches():
    it = batch_iterator(7, 3, torch.Generator().manual_seed(0))
    draws = torch.cat([next(it) for _ in range(7)])                     # 21 draws = 3 full permutations
    assert all(sorted(draws[i:i+7].tolist()) == list(range(7)) for i in (0, 7, 14))
    a = [next(batch_iterator(7, 3, torch.Generator().manual_seed(5))) for _ in range(2)]
    assert torch.equal(a[0], a[1])
    tr, _ = load_dataset('digits')
    tb = TensorBatches(tr, 16, idx=[4, 8], device='cpu', generator=torch.Generator().manual_seed(0))
    x, y, i = next(tb)
    assert x.dtype == torch.uint8 and x.shape == (16, 1, 8, 8) and set(i.tolist()) <= {4, 8} and torch.equal(y, tr.y[i])
