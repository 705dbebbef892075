"""as3l.augment: batched augmentations are shaped, bounded, deterministic and respect `hflip`."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

import as3l.augment as A
from as3l.augment import weak_augment, strong_augment, simsiam_augment, STRONG_OPS
from as3l.data import load_dataset


# ---------------------------------------------------------------- augmentations
def _batch(c=3, s=32, b=16):
    return (torch.rand(b, c, s, s, generator=torch.Generator().manual_seed(0)) * 255).round() / 255

@pytest.mark.parametrize('aug', [weak_augment, strong_augment, simsiam_augment])
@pytest.mark.parametrize('c,s', [(3, 32), (1, 8)])
def test_augment_shape_range_determinism(aug, c, s):
    x = _batch(c, s)
    a = aug(x, generator=torch.Generator().manual_seed(1)); b = aug(x, generator=torch.Generator().manual_seed(1))
    assert a.shape == x.shape and a.dtype == x.dtype and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1 and not torch.equal(a, x)
    assert not torch.equal(a, aug(x, generator=torch.Generator().manual_seed(2)))


def test_augment_rejects_uint8():
    with pytest.raises(ValueError, match='float'): weak_augment(torch.zeros(2, 1, 8, 8, dtype=torch.uint8))


def test_no_flip_for_digits():
    tr, _ = load_dataset('digits')
    x = tr.x[:200].float() / 255
    assert torch.equal(weak_augment(x, pad_frac=0, flip=tr.hflip, generator=torch.Generator().manual_seed(0)), x)
    flipped = weak_augment(x, pad_frac=0, flip=True, generator=torch.Generator().manual_seed(0))
    assert 50 < sum(torch.equal(f, o.flip(-1)) and not torch.equal(f, o) for f, o in zip(flipped, x)) < 150
    # simsiam without flip, crop of the full image, no colour changes: the image itself
    v = simsiam_augment(x, scale=(1, 1), ratio=(1, 1), flip=False, p_jitter=0, p_gray=0)
    assert torch.allclose(v, x, atol=1e-5)


def test_weak_is_a_shift_of_the_reflect_padded_image():
    x = _batch(3, 32, 8)
    w = weak_augment(x, flip=False, generator=torch.Generator().manual_seed(0))
    xp = torch.nn.functional.pad(x, (4, 4, 4, 4), mode='reflect')
    assert all(any(torch.equal(w[i], xp[i, :, dy:dy+32, dx:dx+32]) for dy in range(9) for dx in range(9)) for i in range(8))


def test_equalize_matches_pil():
    x = _batch(3, 16, 4)
    ours = A._pixel_op('equalize', x, torch.zeros(4))
    pil = torch.stack([torch.from_numpy(np.array(ImageOps.equalize(Image.fromarray((im.permute(1, 2, 0) * 255).round().byte().numpy()))))
                       .permute(2, 0, 1) for im in x]).float() / 255
    assert torch.allclose(ours, pil, atol=1e-6)


def test_every_strong_op_runs_alone():
    x = _batch(3, 32, 8)
    for op in STRONG_OPS:
        y = strong_augment(x, n_ops=1, cutout=0, pad_frac=0, flip=False, ops=[op], magnitude=0.7, generator=torch.Generator().manual_seed(0))
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1, op
        assert torch.equal(y, x) == (op == 'identity'), op


def test_cutout_sets_grey_square():
    x = torch.zeros(64, 3, 32, 32)
    y = strong_augment(x, n_ops=1, ops=['identity'], pad_frac=0, flip=False, cutout=0.5, generator=torch.Generator().manual_seed(0))
    frac = (y == 0.5).float().mean((1, 2, 3))
    assert set(torch.unique(y).tolist()) <= {0.0, 0.5} and frac.max() <= 0.25 and (frac > 0).float().mean() > 0.8


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_augment_same_on_cuda():
    x = _batch()
    for aug in (weak_augment, strong_augment, simsiam_augment):
        a = aug(x, generator=torch.Generator().manual_seed(0)); b = aug(x.cuda(), generator=torch.Generator().manual_seed(0))
        assert b.is_cuda and torch.allclose(a, b.cpu(), atol=1e-3)
