#!/usr/bin/env python3
"""Reference fixtures for @dfm/lightning-like metrics (AUROC, ROC/PR curves, F1, AUPRO).

Run from the package directory:  python3 scripts/make-metric-fixtures.py
Writes test/fixtures/metrics-binary.json and test/fixtures/metrics-aupro.json.

Binary metrics come from scikit-learn. AUPRO comes from an independent, deliberately
straightforward numpy/scipy implementation written here from the definition:
  * regions = 8-connected components of each ground-truth mask (scipy.ndimage.label with a
    3x3 structure of ones, the connectivity anomalib gets from cv2.connectedComponents);
  * for every distinct score t (descending): PRO(t) = mean over regions of the fraction of the
    region's pixels with score >= t; FPR(t) = fraction of normal pixels (mask 0, all images)
    with score >= t; the curve starts at (0, 0);
  * area under PRO(FPR) for FPR in [0, limit], the value at the limit linearly interpolated
    (np.interp), trapezoids, divided by the limit.
"""
import json
import os
import sys
import zlib

import numpy as np
import scipy
import scipy.ndimage
import sklearn
from sklearn.metrics import f1_score, precision_recall_curve, roc_auc_score, roc_curve

SEED = 20240607
SCRIPT = "packages/lightning-like/scripts/make-metric-fixtures.py"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")


def header(kind):
    return {
        "script": SCRIPT,
        "seed": SEED,
        "kind": kind,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
        "python": sys.version.split()[0],
    }


def best_f1(y, s):
    """Best-F1 threshold on sklearn's PR curve: first maximum in ascending-threshold order."""
    p, r, t = precision_recall_curve(y, s)
    p, r = p[:-1], r[:-1]  # drop the appended (1, 0) point, it has no threshold
    denom = p + r
    f1 = np.where(denom > 0, 2 * p * r / np.where(denom > 0, denom, 1), 0.0)
    best = f1.max()
    k = int(np.flatnonzero(f1 >= best - 1e-12)[0])  # ties: the lowest threshold wins
    thr = float(t[k])
    return thr, float(f1_score(y, (s >= thr).astype(int)))


def binary_case(name, scores, labels, float32=False):
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=np.float32 if float32 else np.float64).astype(np.float64)
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    prec, rec, pthr = precision_recall_curve(y, s)
    bthr, bf1 = best_f1(y, s)
    rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
    preds = (rng.random(len(y)) < 0.5).astype(int)
    preds[np.flatnonzero(y)[0]] = 1  # at least one true positive
    return {
        "name": name,
        "float32": float32,
        "scores": [float(v) for v in s],
        "labels": [int(v) for v in y],
        "auroc": float(roc_auc_score(y, s)),
        # sklearn 1.2 puts max(score)+1 first, later versions +inf: we store thresholds[1:]
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholdsAfterFirst": thr[1:].tolist()},
        "pr": {"precision": prec.tolist(), "recall": rec.tolist(), "thresholds": pthr.tolist()},
        "bestF1": {"threshold": bthr, "f1": bf1},
        "predictions": preds.tolist(),
        "f1": float(f1_score(y, preds)),
    }


def make_binary(rng):
    cases = []
    n = 200
    y = (rng.random(n) < 0.3).astype(int)
    s = rng.normal(size=n) + 1.2 * y
    cases.append(binary_case("random", s, y))
    y = (rng.random(300) < 0.4).astype(int)
    s = np.round(rng.normal(size=300) + y, 0) / 2  # few distinct values: heavy ties
    cases.append(binary_case("heavy-ties", s, y))
    y = np.array([0, 1, 0, 0, 1, 1, 0, 1, 0, 0])
    cases.append(binary_case("all-equal", np.full(10, 0.25), y))
    y = np.array([0] * 20 + [1] * 7)
    s = np.concatenate([rng.random(20), 2 + rng.random(7)])
    cases.append(binary_case("perfectly-separated", s, y))
    cases.append(binary_case("reversed", -s, y))
    cases.append(binary_case("sklearn-docstring", [0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]))
    y = (rng.random(150) < 0.5).astype(int)
    s = (rng.integers(-8, 8, size=150) * 0.1 + 0.05 * y).astype(np.float32)
    s[:3] = -0.0  # negative zero ties with the zeros
    s[3:6] = 0.0
    cases.append(binary_case("float32-ties-signed-zero", s, y, float32=True))
    return cases


def reference_aupro(maps, masks, limit):
    structure = np.ones((3, 3), dtype=int)  # 8-connectivity
    per_image = []
    for i, m in enumerate(masks):
        lab, k = scipy.ndimage.label(m, structure=structure)
        for r in range(1, k + 1):
            per_image.append(maps[i][lab == r])
    normal = maps[masks == 0]
    fprs, pros = [0.0], [0.0]
    for t in np.unique(maps)[::-1]:
        fprs.append(float(np.mean(normal >= t)))
        pros.append(float(np.mean([np.mean(r >= t) for r in per_image])))
    fprs, pros = np.array(fprs), np.array(pros)
    keep = fprs <= limit
    x = np.concatenate([fprs[keep], [limit]])
    y = np.concatenate([pros[keep], [np.interp(limit, fprs, pros)]])
    return float(np.trapz(y, x) / limit), len(per_image)


def blob_masks(rng, n, h, w, diagonal=False):
    masks = np.zeros((n, h, w), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        if i % 3 == 2:
            continue  # a normal image with no anomaly
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.integers(3, h - 3), rng.integers(3, w - 3)
            ry, rx = rng.uniform(1.2, 4.5), rng.uniform(1.2, 4.5)
            masks[i][((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1] = 1
    if diagonal:
        # two blocks touching only at a corner: one region under 8-connectivity, two under 4
        masks[0, 1:4, 1:4] = 1
        masks[0, 4:6, 4:7] = 1
        masks[0, 0, h - 1] = 1  # a single-pixel region in a corner
    return masks


def aupro_case(name, rng, n=6, h=32, w=32, quantum=None, float32=False, diagonal=False, limits=(0.3,)):
    masks = blob_masks(rng, n, h, w, diagonal)
    noise = rng.normal(size=(n, h, w))
    smooth = scipy.ndimage.gaussian_filter(noise, sigma=(0, 1.5, 1.5))
    maps = smooth * 2 + 1.0 * scipy.ndimage.gaussian_filter(masks.astype(float), sigma=(0, 1, 1)) + 0.3 * masks
    maps = np.round(maps / quantum) * quantum if quantum else np.round(maps, 4)
    if float32:
        maps = maps.astype(np.float32)
    maps64 = maps.astype(np.float64)
    out = {
        "name": name,
        "float32": float32,
        "height": h,
        "width": w,
        "count": n,
        "distinctScores": int(len(np.unique(maps64))),
        "maps": [float(v) for v in maps.ravel()] if float32 else maps64.ravel().tolist(),
        "masks": "".join(str(int(v)) for v in masks.ravel()),
        "pixelAuroc": float(roc_auc_score(masks.ravel(), maps64.ravel())),
        "aupro": {},
    }
    for limit in limits:
        value, regions = reference_aupro(maps64, masks, limit)
        out["aupro"][str(limit)] = value
        out["regions"] = regions
    return out


def main():
    rng = np.random.default_rng(SEED)
    binary = {"header": header("binary metrics vs scikit-learn"), "cases": make_binary(rng)}
    aupro = {
        "header": header("AUPRO by an independent numpy/scipy loop over all distinct thresholds"),
        "cases": [
            aupro_case("blobs", rng, limits=(0.3, 0.05, 1.0)),
            aupro_case("blobs-ties", rng, quantum=0.25),
            aupro_case("blobs-diagonal-float32", rng, float32=True, diagonal=True, limits=(0.3, 0.1)),
        ],
    }
    os.makedirs(OUT, exist_ok=True)
    for fname, data in (("metrics-binary.json", binary), ("metrics-aupro.json", aupro)):
        with open(os.path.join(OUT, fname), "w") as f:
            json.dump(data, f, separators=(",", ":"))
            f.write("\n")
        print("wrote", fname)


if __name__ == "__main__":
    main()
