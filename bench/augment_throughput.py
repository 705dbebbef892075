"""Benchmark 5: strong-augmentation throughput of `as3l.augment.strong_augment` (batched tensor ops) against a
per-image PIL RandAugment + Cutout pipeline written like USB/TorchSSL's `randaugment.py` (flip, reflect-pad crop,
N random ops with random magnitudes, Cutout, to float tensor).

Goal: batched >= 3x the per-image PIL pipeline, 32x32x3 images, batch 448, 2 cores.

Both sides get the same input (a uint8 batch) and produce the same output (a float (B,3,32,32) tensor in [0,1]) with
the same number of ops per image. The headline compares ONE core with ONE core (torch.set_num_threads(1) vs a
single Python process: what one DataLoader worker does); the 2-thread batched number is printed beside it.
Timings alternate reference / candidate within one process, so machine load hits both alike.

    .venv/bin/python bench/augment_throughput.py [--quick]
"""
from __future__ import annotations
import argparse, random, sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.report import headline, interleaved, machine_line, med, paired_ratio, save_result, table  # noqa: E402

GOAL = 3.0

# ---------------- the reference: per-image PIL RandAugment + Cutout (USB / TorchSSL style) ----------------
def _autocontrast(img, _): return ImageOps.autocontrast(img)
def _brightness(img, v): return ImageEnhance.Brightness(img).enhance(v)
def _color(img, v): return ImageEnhance.Color(img).enhance(v)
def _contrast(img, v): return ImageEnhance.Contrast(img).enhance(v)
def _equalize(img, _): return ImageOps.equalize(img)
def _identity(img, _): return img
def _posterize(img, v): return ImageOps.posterize(img, int(v))
def _rotate(img, v): return img.rotate(v)
def _sharpness(img, v): return ImageEnhance.Sharpness(img).enhance(v)
def _shear_x(img, v): return img.transform(img.size, Image.AFFINE, (1, v, 0, 0, 1, 0))
def _shear_y(img, v): return img.transform(img.size, Image.AFFINE, (1, 0, 0, v, 1, 0))
def _solarize(img, v): return ImageOps.solarize(img, 256 - v)
def _translate_x(img, v): return img.transform(img.size, Image.AFFINE, (1, 0, v * img.size[0], 0, 1, 0))
def _translate_y(img, v): return img.transform(img.size, Image.AFFINE, (1, 0, 0, 0, 1, v * img.size[1]))

AUGMENT_LIST = [(_autocontrast, 0, 1), (_brightness, 0.05, 0.95), (_color, 0.05, 0.95), (_contrast, 0.05, 0.95),
                (_equalize, 0, 1), (_identity, 0, 1), (_posterize, 4, 8), (_rotate, -30, 30), (_sharpness, 0.05, 0.95),
                (_shear_x, -0.3, 0.3), (_shear_y, -0.3, 0.3), (_solarize, 0, 256), (_translate_x, -0.3, 0.3),
                (_translate_y, -0.3, 0.3)]


def _cutout(img, v):
    "TorchSSL Cutout: a grey square of side v * width at a random centre."
    w, h = img.size
    s = v * w
    x0, y0 = np.random.uniform(w), np.random.uniform(h)
    x0, y0 = int(max(0, x0 - s / 2.)), int(max(0, y0 - s / 2.))
    x1, y1 = int(min(w, x0 + s)), int(min(h, y0 + s))
    img = img.copy()
    ImageDraw.Draw(img).rectangle((x0, y0, x1, y1), (127, 127, 127))
    return img


class PILRandAugment:
    "TorchSSL/USB RandAugment(n): n ops drawn with replacement, each with a uniform random magnitude, then Cutout."
    def __init__(self, n:int=2): self.n = n
    def __call__(self, img):
        for op, lo, hi in random.choices(AUGMENT_LIST, k=self.n):
            img = op(img, lo + float(hi - lo) * random.random())
        return _cutout(img, random.random() * 0.5)


def pil_strong(x_nhwc:np.ndarray, n_ops:int=2, pad:int=4) -> torch.Tensor:
    "USB's strong transform per image: RandomHorizontalFlip, RandomCrop(pad, reflect), RandAugment, ToTensor."
    ra = PILRandAugment(n_ops)
    out = np.empty((len(x_nhwc), x_nhwc.shape[3], x_nhwc.shape[1], x_nhwc.shape[2]), np.float32)
    H, W = x_nhwc.shape[1:3]
    for i, a in enumerate(x_nhwc):
        if random.random() < 0.5: a = a[:, ::-1]
        a = np.pad(a, ((pad, pad), (pad, pad), (0, 0)), mode='reflect')
        dy, dx = random.randint(0, 2 * pad), random.randint(0, 2 * pad)
        img = ra(Image.fromarray(np.ascontiguousarray(a[dy:dy + H, dx:dx + W])))
        out[i] = np.asarray(img, np.float32).transpose(2, 0, 1) / 255.
    return torch.from_numpy(out)


# ---------------- the candidate ----------------
def as3l_strong(x_uint8_nchw:torch.Tensor, n_ops:int=2, generator=None) -> torch.Tensor:
    "What the FlexMatch trainer does: uint8 batch -> float [0,1] -> as3l.augment.strong_augment."
    from as3l.augment import strong_augment
    return strong_augment(x_uint8_nchw.float().div_(255), n_ops=n_ops, cutout=0.5, generator=generator)


def load_images(n:int, seed:int=0) -> tuple[np.ndarray, str]:
    "n real CIFAR-10 images (NHWC uint8) when ../shared/data/cifar10_10k.npz exists, else uniform noise."
    from benchlib.data import cifar_or_noise
    x, _, src = cifar_or_noise(n, seed)
    return x, ('cifar10_10k (real images)' if src == 'cifar10_10k' else src)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--quick', action='store_true', help='fewer rounds (about 30 s)')
    ap.add_argument('--batch', type=int, default=448)
    ap.add_argument('--n-ops', type=int, default=2, help='RandAugment ops per image (as3l SSLConfig.strong_ops = 2)')
    ap.add_argument('--rounds', type=int, default=None)
    a = ap.parse_args(argv)
    rounds = a.rounds or (3 if a.quick else 7)
    print(machine_line())
    x_np, src = load_images(a.batch)
    x_t = torch.from_numpy(x_np).permute(0, 3, 1, 2).contiguous()
    print(f"# {a.batch} images 32x32x3 from {src}; {a.n_ops} ops/image + cutout; {rounds} interleaved rounds")
    random.seed(0); np.random.seed(0); g = torch.Generator().manual_seed(0)
    threads0 = torch.get_num_threads()

    def batched(threads):
        def f():
            torch.set_num_threads(threads)
            try: as3l_strong(x_t, a.n_ops, g)
            finally: torch.set_num_threads(threads0)
        return f
    fns = {'pil_per_image': lambda: pil_strong(x_np, a.n_ops), 'as3l_1thread': batched(1), 'as3l_2threads': batched(max(2, threads0))}
    t = interleaved(fns, rounds=rounds)
    rows = [{'pipeline': k, 'threads': 1 if k != 'as3l_2threads' else max(2, threads0), 'sec_per_batch': med(v),
             'images_per_s': a.batch / med(v)} for k, v in t.items()]
    print(table(rows))
    r1 = paired_ratio(t, 'pil_per_image', 'as3l_1thread')
    r2 = paired_ratio(t, 'pil_per_image', 'as3l_2threads')
    print(f"# speed-up vs PIL per image: 1 thread vs 1 core {r1:.2f}x; 2 threads vs 1 core {r2:.2f}x "
          f"(vs 2 DataLoader workers, ideal: {r2 / 2:.2f}x)")
    save_result('augment_throughput', {'rows': rows, 'times': t, 'ratio_1v1': r1, 'ratio_2threads_vs_1core': r2,
                                       'batch': a.batch, 'n_ops': a.n_ops, 'images': src, 'quick': a.quick})
    headline('augment_throughput', f"batched strong_augment {r1:.2f}x the per-image PIL RandAugment+Cutout, "
             f"1 core vs 1 core (goal >= {GOAL:g}x)", r1 >= GOAL)
    return r1


if __name__ == '__main__':
    main()
