#!/usr/bin/env python3
"""Generates the reference fixtures of @dfm/linalg's tests with numpy / scikit-learn in float64.

Run from packages/linalg:  /usr/bin/python3 scripts/make-fixtures.py [file.json ...]
Writes test/fixtures/{decompositions,pca-levels,dfm-features,pca-statistics}.json (or only the files named).
Each file starts with a "header" naming this script, the seed and the library versions. Deterministic:
the same seed gives the same files.

dfm-features.json holds no feature data: the features come from a counter-based hash generator
(features_generator below) that test/dfm-features.ts reimplements bit-for-bit, using only integer ops,
+, * and max, so both sides build identical float32 features. A checksum pins the match.
"""
import json
import os
import sys

import numpy as np
import scipy
import sklearn
from sklearn.decomposition import PCA

SEED = 20240611
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'test', 'fixtures')
LEVELS = [0.5, 0.9, 0.97, 0.999, 1.0]


def header(what, seed=SEED):
    return {
        'script': 'packages/linalg/scripts/make-fixtures.py',
        'seed': seed,
        'what': what,
        'numpy': np.__version__,
        'scipy': scipy.__version__,
        'sklearn': sklearn.__version__,
        'python': sys.version.split()[0],
    }


def as_list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def decompositions(rng):
    """Matrices for eigh and svd, with numpy's float64 eigenvalues / singular values."""
    svd_cases = {}
    svd_cases['random'] = rng.standard_normal((30, 20))
    svd_cases['rank-deficient'] = rng.standard_normal((30, 5)) @ rng.standard_normal((5, 20))
    u, v = orthogonal(rng, 24)[:, :16], orthogonal(rng, 16)
    s = np.array([3.0, 3.0, 3.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 1e-3, 1e-3, 0.0, 0.0, 0.0])
    svd_cases['repeated'] = (u * s) @ v.T
    svd_cases['wide'] = rng.standard_normal((12, 40))
    svd_cases['tall'] = rng.standard_normal((60, 8))
    svd_cases['badly-scaled'] = (10.0 ** np.linspace(-8, 8, 25))[:, None] * rng.standard_normal((25, 18)) * (
        10.0 ** np.linspace(3, -3, 18)
    )[None, :]
    svd_cases['tiny-singular-values'] = (orthogonal(rng, 20)[:, :12] * 10.0 ** -np.arange(12.0)) @ orthogonal(rng, 12).T

    eigh_cases = {}
    b = rng.standard_normal((25, 25))
    eigh_cases['random'] = (b + b.T) / 2
    c = rng.standard_normal((25, 6))
    eigh_cases['rank-deficient'] = c @ c.T
    q = orthogonal(rng, 20)
    lam = np.array([5, 5, 5, 5, 2, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, -1, -1, -3, -3, -3], dtype=np.float64)
    eigh_cases['repeated'] = (q * lam) @ q.T
    eigh_cases['badly-scaled'] = (lambda m: (m + m.T) / 2)(
        (q * 10.0 ** np.linspace(8, -8, 20)) @ q.T
    )
    eigh_cases['diagonal'] = np.diag(np.array([1.0, -2.0, 3.0, 0.0, 3.0, 1e-12]))
    eigh_cases['one-by-one'] = np.array([[-4.5]])

    out = {'header': header('eigh and svd cases: float64 matrices with numpy eigenvalues / singular values'), 'eigh': [], 'svd': []}
    for name, m in eigh_cases.items():
        m = (m + m.T) / 2
        values = np.linalg.eigvalsh(m)[::-1]
        out['eigh'].append({'name': name, 'rows': m.shape[0], 'cols': m.shape[1], 'data': as_list(m), 'values': as_list(values)})
    for name, m in svd_cases.items():
        values = np.linalg.svd(m, compute_uv=False)
        out['svd'].append({'name': name, 'rows': m.shape[0], 'cols': m.shape[1], 'data': as_list(m), 'singularValues': as_list(values)})
    return out


def pca_levels(rng):
    """float32-representable data; sklearn's k per level (1.0 → rank), singular values, ratios, components."""
    cases = []
    shapes = {'covariance-route': (90, 30), 'gram-route': (40, 120), 'one-dominant-direction': (50, 20)}
    for name, (n, d) in shapes.items():
        if name == 'one-dominant-direction':
            x = np.outer(rng.standard_normal(n) * 100, rng.standard_normal(d)) + 3.0 * rng.standard_normal((n, d))
        else:
            r = min(n, d)
            x = (rng.standard_normal((n, r)) * 0.9 ** np.arange(r)) @ rng.standard_normal((r, d)) + 3.0
        x = x.astype(np.float32).astype(np.float64)
        full = PCA(svd_solver='full').fit(x)
        ratio_cumsum = np.cumsum(full.explained_variance_ratio_)
        ks = {}
        margins = {}
        for level in LEVELS:
            if level < 1:
                ks[str(level)] = int(PCA(n_components=level, svd_solver='full').fit(x).n_components_)
                margins[str(level)] = float(np.min(np.abs(ratio_cumsum - level)))
            else:
                # sklearn rejects 1.0; "every non-zero component" = the rank of the centred data.
                ks[str(level)] = int(np.linalg.matrix_rank(x - x.mean(0)))
        out_min_ratio = float(full.explained_variance_ratio_[ks['1.0'] - 1] / full.explained_variance_ratio_[0])
        cases.append({
            'name': name,
            'rows': n,
            'cols': d,
            'data': as_list(x),
            'k': ks,
            'levelMargins': margins,
            'smallestNonZeroEigenvalueRatio': out_min_ratio,
            'singularValues': as_list(full.singular_values_),
            'explainedVarianceRatio': as_list(full.explained_variance_ratio_),
            'components5': as_list(full.components_[:5].T),
        })
    return {
        'header': header('PCA on float32-representable data: sklearn PCA(svd_solver="full") k per level; level 1.0 = matrix_rank of centred data (sklearn rejects 1.0)'),
        'levels': LEVELS,
        'cases': cases,
    }


# ---- DFM-like features from a counter-based hash (mirrored in test/dfm-features.ts) ----
MASK = np.uint64(0xFFFFFFFF)


def hash_uniform(seed, start, count):
    """Uniforms in [0, 1) with 24 bits: hash32(seed + i * 0x9E3779B9) >> 8 / 2^24 for i in start…start+count."""
    i = np.arange(start, start + count, dtype=np.uint64)
    x = (np.uint64(seed) + i * np.uint64(0x9E3779B9)) & MASK
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & MASK
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & MASK
    x ^= x >> np.uint64(16)
    return (x >> np.uint64(8)).astype(np.float64) / 16777216.0


def hash_normal(seed, start, count):
    """Approximately standard normal: (u1 + u2 + u3 + u4 − 2) · √3, four consecutive uniforms each."""
    u = hash_uniform(seed, 4 * start, 4 * count).reshape(count, 4)
    return (((u[:, 0] + u[:, 1]) + u[:, 2]) + u[:, 3] - 2.0) * np.sqrt(3.0)


def features_generator(seed, n, d, rank=24, decay=0.85):
    """[n, d] float32 DFM-like features: relu(0.5 + 0.25 · Σ_t c_it b_tj + 0.2 · noise)."""
    basis = hash_normal(seed, 0, rank * d).reshape(rank, d)
    coef = hash_normal(seed + 1, 0, n * rank).reshape(n, rank)
    noise = hash_normal(seed + 2, 0, n * d).reshape(n, d)
    acc = np.zeros((n, d))
    scale = 1.0
    for t in range(rank):
        acc = acc + (coef[:, t:t + 1] * scale) * basis[t][None, :]
        scale = scale * decay
    x = np.maximum(0.5 + 0.25 * acc + 0.2 * noise, 0.0)
    return x.astype(np.float32)


def gaussian_nll(z_train):
    """SingleClassGaussian in float64 (anomalib's formulas on the [N, k] projection; nothing to drop
    here): the NLL function and the singular values sigma."""
    m = z_train.mean(0)
    _, sigma, vt = np.linalg.svd((z_train - m) / np.sqrt(z_train.shape[0]), full_matrices=False)
    w = vt.T / sigma
    return (lambda z: np.sum(((z - m) @ w) ** 2, axis=1) + 2 * np.sum(np.log(sigma))), sigma


def dfm_features():
    seed, n_train, n_test, d = 7, 200, 24, 4096
    x = features_generator(seed, n_train + n_test, d)
    train = x[:n_train].astype(np.float64)
    test = x[n_train:].astype(np.float64)
    out = {
        'header': header('DFM-like float32 features (generator mirrored in test/dfm-features.ts); float64 references: sklearn PCA, FRE, Gaussian NLL', seed),
        'generator': {'seed': seed, 'nTrain': n_train, 'nTest': n_test, 'nFeatures': d, 'rank': 24, 'decay': 0.85},
        'checksum': {'sum': float(x.astype(np.float64).sum()), 'first': as_list(x[0, :8]), 'last': as_list(x[-1, -8:])},
        'levels': {},
    }
    for level in [0.9, 0.97]:
        pca = PCA(n_components=level, svd_solver='full').fit(train)
        mu, v = pca.mean_, pca.components_.T
        k = v.shape[1]

        def residual(a):
            c = a - mu
            return c - (c @ v) @ v.T

        r_train, r_test = residual(train), residual(test)
        z_train = (train - mu) @ v
        z_test = (test - mu) @ v
        nll, sigma = gaussian_nll(z_train)
        out['levels'][str(level)] = {
            'k': int(k),
            'freTrain': as_list(np.sum(r_train ** 2, axis=1)[:24]),
            'freTest': as_list(np.sum(r_test ** 2, axis=1)),
            'residualTest0': as_list(r_test[0]),
            'nllTrain': as_list(nll(z_train)[:24]),
            'nllTest': as_list(nll(z_test)),
            'gaussianSigma': as_list(sigma),
        }
    return out


def reference_levels(train, test, levels):
    """sklearn PCA per level, with FRE and the float64 Gaussian NLL on the projection (as in dfm_features)."""
    out = {}
    for level in levels:
        pca = PCA(n_components=level, svd_solver='full').fit(train)
        mu, v = pca.mean_, pca.components_.T
        ratio_cumsum = np.cumsum(PCA(svd_solver='full').fit(train).explained_variance_ratio_)

        def fre(a):
            c = a - mu
            return np.sum((c - (c @ v) @ v.T) ** 2, axis=1)

        z_train = (train - mu) @ v
        z_test = (test - mu) @ v
        nll, _ = gaussian_nll(z_train)
        out[str(level)] = {
            'k': int(v.shape[1]),
            'levelMargin': float(np.min(np.abs(ratio_cumsum - level))) if level < 1 else None,
            'freTrain': as_list(fre(train)[:24]),
            'freTest': as_list(fre(test)),
            'nllTrain': as_list(nll(z_train)[:24]),
            'nllTest': as_list(nll(z_test)),
        }
    return out


def pca_statistics():
    """Covariance-route references (N >= D) for PCAStatistics: the dfm-features generator at N = 600, D = 256,
    as generated and with a large mean (x + 1000, rounded to float32 like the TypeScript side's Math.fround)."""
    seed, n_train, n_test, d = 11, 600, 24, 256
    x = features_generator(seed, n_train + n_test, d)
    out = {
        'header': header('PCAStatistics covariance route: DFM-like float32 features (test/dfm-features.ts) at N >= D; float64 sklearn PCA k, FRE and Gaussian NLL per level, plain and with a large mean', seed),
        'generator': {'seed': seed, 'nTrain': n_train, 'nTest': n_test, 'nFeatures': d, 'rank': 24, 'decay': 0.85},
        'checksum': {'sum': float(x.astype(np.float64).sum()), 'first': as_list(x[0, :8]), 'last': as_list(x[-1, -8:])},
        'cases': {},
    }
    for name, offset in [('plain', None), ('large-mean', 1000.0)]:
        xo = x if offset is None else (x + np.float32(offset)).astype(np.float32)
        train = xo[:n_train].astype(np.float64)
        test = xo[n_train:].astype(np.float64)
        out['cases'][name] = {'offset': 0.0 if offset is None else offset, 'levels': reference_levels(train, test, [0.9, 0.97, 16])}
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED)
    files = {
        'decompositions.json': lambda: decompositions(rng),
        'pca-levels.json': lambda: pca_levels(rng),
        'dfm-features.json': dfm_features,
        'pca-statistics.json': pca_statistics,
    }
    only = sys.argv[1:]
    for name in only:
        if name not in files:
            sys.exit(f'unknown fixture {name}; choose from {", ".join(files)}')
    for name, make in files.items():
        # decompositions and pca-levels share one random stream: build them in order even when not written.
        content = make()
        if only and name not in only:
            continue
        path = os.path.join(OUT, name)
        with open(path, 'w') as f:
            json.dump(content, f, separators=(',', ':'))
            f.write('\n')
        print(f'{name}: {os.path.getsize(path)} bytes')


if __name__ == '__main__':
    main()
