"""Reference values for src/resize.test.ts: PIL / torchvision antialiased bilinear resize,
written from PIL's Resample.c (precompute_coeffs + bilinear filter) in numpy float64.
Input: v(y, x, c) = ((7x + 13y + 29c) mod 17) / 16 (deterministic, no RNG).
Run: python3 scripts/resize-reference.py > src/fixtures/resize-reference.json
"""
import json
import numpy as np


def coeffs(in_size, out_size):
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale
    w = np.zeros((out_size, in_size))
    for i in range(out_size):
        center = (i + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        x = np.arange(xmin, xmax)
        t = np.abs((x - center + 0.5) / filterscale)
        k = np.where(t < 1.0, 1.0 - t, 0.0)
        w[i, xmin:xmax] = k / k.sum()
    return w


def image(h, w, c=3):
    y, x, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return ((7 * x + 13 * y + 29 * ch) % 17) / 16.0


cases = []
for (h, w, oh, ow) in [(13, 17, 5, 6), (6, 5, 11, 9), (16, 16, 4, 4), (20, 9, 7, 9)]:
    src = image(h, w)
    wy, wx = coeffs(h, oh), coeffs(w, ow)
    out = np.einsum("oy,yxc->oxc", wy, np.einsum("px,yxc->ypc", wx, src))
    cases.append({"in": [h, w], "out": [oh, ow], "expected": [round(v, 9) for v in out.reshape(-1).tolist()]})
print(json.dumps({"generator": "scripts/resize-reference.py (numpy " + np.__version__ + ")", "cases": cases}))
