#!/usr/bin/env python3
"""Synthetic DFM-like features for the scale table of `pnpm --filter @dfm/linalg bench` (bench/pca.bench.ts).

Usage: scale-data.py N D train.f32 queries.f32
Writes N training rows and 1000 query rows, float32 row-major, no header. Rows are
x = 0.5 + (z * s) B + σ e: a rank-1000 signal with standard deviations s_r = r^-0.8 (r = 1…1000) on random
directions B (1000 x D, entries N(0, 1/D), so unit-norm rows) plus isotropic noise e ~ N(0, 1) with
σ = 0.003 · √(4096 / D) (the noise's total variance, 0.037, does not grow with D; the signal's is 2.5). The
spectrum decays like r^-1.6 and flattens into the noise floor: at level 0.97 sklearn keeps ~160 components at
N = 1000 and ~210 at N = 4000 (D = 4096). Seeded (numpy default_rng(7) for B, then one stream for the rows): the same files every run.
"""
import sys

import numpy as np

RANK = 1000
BLOCK = 2000


def main():
    n, d = int(sys.argv[1]), int(sys.argv[2])
    train_path, queries_path = sys.argv[3], sys.argv[4]
    rng = np.random.default_rng(7)
    s = (np.arange(1, RANK + 1) ** -0.8).astype(np.float32)
    noise = np.float32(0.003 * np.sqrt(4096 / d))
    basis = (rng.standard_normal((RANK, d), dtype=np.float32) / np.sqrt(d)).astype(np.float32)
    for path, count in ((train_path, n), (queries_path, 1000)):
        with open(path, 'wb') as out:
            for start in range(0, count, BLOCK):
                m = min(BLOCK, count - start)
                z = rng.standard_normal((m, RANK), dtype=np.float32) * s
                rows = 0.5 + z @ basis + noise * rng.standard_normal((m, d), dtype=np.float32)
                out.write(rows.astype(np.float32).tobytes())


if __name__ == '__main__':
    main()
