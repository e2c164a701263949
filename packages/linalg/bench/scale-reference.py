#!/usr/bin/env python3
"""numpy side of one cell of the scale table (bench/pca.bench.ts runs it in a fresh process per route and size).

Usage: scale-reference.py <eigh|svd> train.f32 N D queries.f32
Prints one JSON line: {"ms", "k", "fre" (eigh only: FRE of the 1000 query rows), "inputRssKiB", "peakRssKiB"}.
  eigh - the covariance-eigh route in float64, as sklearn's covariance_eigh: centre, Gram N×N (N < D) or
         covariance D×D (N ≥ D), np.linalg.eigh, k by sklearn's rule at level 0.97, components.
  svd  - anomalib's route: np.linalg.svd of the centred float64 data (full_matrices=False), k by the same rule.
`ms` covers the PCA only (from the float32 rows in memory to the components), not reading the file.
"""
import json
import resource
import sys
import time

import numpy as np

LEVEL = 0.97


def count(w):
    return int(np.searchsorted(np.cumsum(w / w.sum()), LEVEL, side='right') + 1)


def main():
    route, train_path, n, d, queries_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    x = np.fromfile(train_path, dtype=np.float32).reshape(n, d)
    input_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    xc = x.astype(np.float64)
    mean = xc.mean(0)
    xc -= mean
    if route == 'eigh':
        if n < d:
            w, u = np.linalg.eigh(xc @ xc.T)
            w = w[::-1].clip(0)
            k = count(w)
            # Contiguous copy of the last k columns: a reversed (negative-stride) view would make the product
            # below skip BLAS and take seconds.
            top = np.ascontiguousarray(u[:, ::-1][:, :k])
            components = (xc.T @ top) / np.sqrt(w[:k])
        else:
            w, v = np.linalg.eigh(xc.T @ xc)
            w = w[::-1].clip(0)
            k = count(w)
            components = np.ascontiguousarray(v[:, ::-1][:, :k])
    else:
        _, s, vt = np.linalg.svd(xc, full_matrices=False)
        k = count(s * s)
        components = vt[:k].T
    ms = (time.perf_counter() - start) * 1000
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {'ms': ms, 'k': k, 'inputRssKiB': input_rss, 'peakRssKiB': peak_rss}
    if route == 'eigh':
        q = np.fromfile(queries_path, dtype=np.float32).reshape(-1, d).astype(np.float64) - mean
        r = q - (q @ components) @ components.T
        out['fre'] = [float(v) for v in np.sum(r * r, axis=1)]
    print(json.dumps(out))


if __name__ == '__main__':
    main()
