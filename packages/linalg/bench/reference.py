#!/usr/bin/env python3
"""Python side of `pnpm --filter @dfm/linalg bench`: times the same work with numpy (and torch when present).

Prints one JSON object on stdout. Routes, per shape [N, D] of float32 DFM-like features:
  numpyEigh   - the covariance-eigh route in float64 (Gram N×N when N < D, else D×D covariance), like
                sklearn's covariance_eigh and like @dfm/linalg's PCA;
  anomalibSvd - anomalib's route: a float64 SVD of the centred data (torch.linalg.svd, full_matrices=False;
                numpy.linalg.svd if torch is missing).
Scoring: FRE of 1000 vectors (residual after projection) and the Gaussian NLL of 1000 projections, float64.
"""
import json
import sys
import time

import numpy as np

try:
    import torch
except Exception:  # torch is optional
    torch = None


def features(rng, n, d, rank=24, decay=0.85):
    basis = rng.standard_normal((rank, d))
    coef = rng.standard_normal((n, rank)) * decay ** np.arange(rank)
    return np.maximum(0.5 + 0.25 * coef @ basis + 0.2 * rng.standard_normal((n, d)), 0).astype(np.float32)


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000, result


def eigh_route(x, level=0.97):
    x = x.astype(np.float64)
    mean = x.mean(0)
    xc = x - mean
    n, d = xc.shape
    if n < d:
        w, u = np.linalg.eigh(xc @ xc.T)
        w, u = w[::-1].clip(0), u[:, ::-1]
    else:
        w, v = np.linalg.eigh(xc.T @ xc)
        w, v = w[::-1].clip(0), v[:, ::-1]
    k = int(np.searchsorted(np.cumsum(w / w.sum()), level, side='right') + 1)
    components = (xc.T @ u[:, :k]) / np.sqrt(w[:k]) if n < d else v[:, :k]
    return mean, components


def anomalib_route(x):
    xc = x.astype(np.float64)
    xc = xc - xc.mean(0)
    if torch is not None:
        return torch.linalg.svd(torch.from_numpy(xc), full_matrices=False)
    return np.linalg.svd(xc, full_matrices=False)


def main():
    shapes = json.loads(sys.argv[1]) if len(sys.argv) > 1 else [[200, 16384], [400, 16384], [1000, 4096]]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    rng = np.random.default_rng(0)
    out = {
        'numpy': np.__version__,
        'torch': torch.__version__ if torch is not None else None,
        'anomalibRoute': 'torch.linalg.svd float64' if torch is not None else 'numpy.linalg.svd float64',
        'fit': [],
    }
    for n, d in shapes:
        x = features(rng, n, d)
        eigh_ms, (mean, components) = best_of(lambda: eigh_route(x), repeats)
        svd_ms, _ = best_of(lambda: anomalib_route(x), repeats)
        out['fit'].append({'shape': [n, d], 'numpyEighMs': eigh_ms, 'anomalibSvdMs': svd_ms})
    # Scoring 1000 vectors with the last model ([1000, 4096] by default).
    queries = features(rng, 1000, shapes[-1][1]).astype(np.float64)

    def fre():
        c = queries - mean
        r = c - (c @ components) @ components.T
        return np.sum(r * r, axis=1)

    z_train = (x.astype(np.float64) - mean) @ components
    m = z_train.mean(0)
    _, sigma, vt = np.linalg.svd((z_train - m) / np.sqrt(len(z_train)), full_matrices=False)
    w = vt.T / sigma
    z_queries = (queries - mean) @ components

    def nll():
        return np.sum(((z_queries - m) @ w) ** 2, axis=1) + 2 * np.sum(np.log(sigma))

    out['score'] = {'freMs': best_of(fre, 5)[0], 'nllMs': best_of(nll, 5)[0], 'k': int(components.shape[1])}
    print(json.dumps(out))


if __name__ == '__main__':
    main()
