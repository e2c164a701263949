// AssemblyScript source of @dfm/linalg's WebAssembly kernels (compiled by scripts/build-wasm.mjs into
// src/kernels-wasm.ts; `pnpm --filter @dfm/linalg build:wasm`). The O(n³) loops of the dense symmetric
// eigensolver (src/dense-eigen.ts): Householder tridiagonalisation, its blocked panel and trailing update,
// and the back-transformation of eigenvectors. float64 throughout, 128-bit SIMD (two lanes) on the rows.
//
// Storage: the symmetric matrix A is n × n row-major float64 at `a`; only its UPPER triangle is read and
// written (row i, columns i…n−1: contiguous). Column k of the lower triangle, the one a reflector
// annihilates, is row k of the upper one. Reflector k (for k = 0…n−2) is stored in row k, columns k+1…n−1,
// with a 1 at column k+1: H_k = I − τ_k u_k u_kᵀ, and A = Q T Qᵀ with Q = H_0 H_1 ⋯ H_{n−2}.
// All pointers are byte offsets into the memory; vectors indexed by absolute row/column number.

function at(base: usize, index: i32): usize {
  return base + (<usize>index << 3);
}

function rowAt(a: usize, n: i32, i: i32): usize {
  return a + ((<usize>i * <usize>n) << 3);
}

/**
 * Turns row r (columns r+1…n−1) into reflector r: writes u (1 at r+1) over it, d/e entries, returns τ.
 * β = −sign(α)·‖x‖, τ = (β − α)/β, u = x / (α − β) below its first entry; e[r] = β (α when nothing to do).
 */
function reflector(a: usize, n: i32, r: i32, e: usize): f64 {
  const row = rowAt(a, n, r);
  const alpha = load<f64>(at(row, r + 1));
  // ‖x‖ of the entries below α, computed on x / max|x| so neither squares of tiny entries underflow nor
  // squares of huge ones overflow (as LAPACK's DNRM2 guards).
  let largest: f64 = Math.abs(alpha);
  for (let j = r + 2; j < n; j++) largest = Math.max(largest, Math.abs(load<f64>(at(row, j))));
  let rest: f64 = 0;
  if (largest > 0) {
    const inverse = 1 / largest;
    for (let j = r + 2; j < n; j++) {
      const x = load<f64>(at(row, j)) * inverse;
      rest += x * x;
    }
  }
  if (rest == 0) {
    store<f64>(at(e, r), alpha);
    store<f64>(at(row, r + 1), 1);
    return 0;
  }
  const scaledAlpha = alpha / largest;
  let beta = largest * Math.sqrt(scaledAlpha * scaledAlpha + rest);
  if (alpha >= 0) beta = -beta;
  const scale = 1 / (alpha - beta);
  for (let j = r + 2; j < n; j++) store<f64>(at(row, j), load<f64>(at(row, j)) * scale);
  store<f64>(at(row, r + 1), 1);
  store<f64>(at(e, r), beta);
  return (beta - alpha) / beta;
}

/** y[i] = 0 for i in [from, n). */
function clear(y: usize, from: i32, n: i32): void {
  for (let i = from; i < n; i++) store<f64>(at(y, i), 0);
}

/**
 * y += A[s:, s:] · u over rows/columns s…n−1 from the upper triangle (u = row `ur` of A, read at
 * columns ≥ s): row i adds its dot with u to y[i] and, by symmetry, u[i]·A[i, j] to y[j] for j > i.
 */
function symvUpper(a: usize, n: i32, s: i32, u: usize, y: usize): void {
  for (let i = s; i < n; i++) {
    const row = rowAt(a, n, i);
    const ui = load<f64>(at(u, i));
    let dot = load<f64>(at(row, i)) * ui;
    const uiv = f64x2.splat(ui);
    let acc = f64x2.splat(0);
    let j = i + 1;
    for (; j + 1 < n; j += 2) {
      const aj = v128.load(at(row, j));
      acc = f64x2.add(acc, f64x2.mul(aj, v128.load(at(u, j))));
      const yp = at(y, j);
      v128.store(yp, f64x2.add(v128.load(yp), f64x2.mul(aj, uiv)));
    }
    dot += f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
    for (; j < n; j++) {
      const aj = load<f64>(at(row, j));
      dot += aj * load<f64>(at(u, j));
      store<f64>(at(y, j), load<f64>(at(y, j)) + aj * ui);
    }
    store<f64>(at(y, i), load<f64>(at(y, i)) + dot);
  }
}

/** w[j] = τ y[j] − (τ²/2)(yᵀu) u[j] for j in [s, n) (w may be y). */
function finishW(y: usize, u: usize, w: usize, tau: f64, s: i32, n: i32): void {
  let yu: f64 = 0;
  for (let j = s; j < n; j++) yu += load<f64>(at(y, j)) * load<f64>(at(u, j));
  const c = 0.5 * tau * tau * yu;
  for (let j = s; j < n; j++) store<f64>(at(w, j), tau * load<f64>(at(y, j)) - c * load<f64>(at(u, j)));
}

// The exported kernels do one step each and JavaScript loops over the steps: V8 first runs WebAssembly
// with its baseline compiler and swaps in optimised code only between calls (there is no on-stack
// replacement for WebAssembly), so one call doing all n steps would run entirely unoptimised.

/**
 * Unblocked tridiagonalisation, first step at row k0 (the rows before k0 are done: their reflectors have
 * been applied to the trailing matrix): reflector k0, τ[k0], and y = A[k0+1:, k0+1:] u_{k0}. Then
 * {@link stepHead} and {@link stepRows} for k = k0…n−2. `y` is a work vector of n.
 */
export function firstStep(a: usize, n: i32, k0: i32, d: usize, e: usize, taus: usize, y: usize): void {
  if (k0 == n - 1) {
    store<f64>(at(d, k0), load<f64>(at(rowAt(a, n, k0), k0)));
    return;
  }
  const tau = reflector(a, n, k0, e);
  store<f64>(at(taus, k0), tau);
  clear(y, k0 + 1, n);
  if (tau != 0) symvUpper(a, n, k0 + 1, rowAt(a, n, k0), y);
}

/**
 * Step k of the unblocked tridiagonalisation, first part (k ≤ n − 2; reflector k in row k, τ[k], and
 * y = A u_k from the previous step): d[k]; w; row k + 1 brought up to date; reflector k + 1 and τ[k+1]
 * (or d[n−1] at the last step); y cleared for the next product. Returns 1 when rows k+2… still need the
 * fused sweep ({@link stepRows}), 0 when the step is complete.
 */
export function stepHead(a: usize, n: i32, k: i32, d: usize, e: usize, taus: usize, y: usize, w: usize): i32 {
  store<f64>(at(d, k), load<f64>(at(rowAt(a, n, k), k)));
  const tau = load<f64>(at(taus, k));
  const u = rowAt(a, n, k);
  const r = k + 1;
  if (tau != 0) {
    finishW(y, u, w, tau, r, n);
    // Row r first (the next reflector is built from it).
    const row = rowAt(a, n, r);
    const ur = load<f64>(at(u, r));
    const wr = load<f64>(at(w, r));
    for (let j = r; j < n; j++) {
      const p = at(row, j);
      store<f64>(p, load<f64>(p) - ur * load<f64>(at(w, j)) - wr * load<f64>(at(u, j)));
    }
  }
  if (r == n - 1) {
    store<f64>(at(d, r), load<f64>(at(rowAt(a, n, r), r)));
    return 0;
  }
  const tauNext = reflector(a, n, r, e);
  store<f64>(at(taus, r), tauNext);
  clear(y, r + 1, n);
  if (tau == 0) {
    if (tauNext != 0) symvUpper(a, n, r + 1, rowAt(a, n, r), y);
    return 0;
  }
  return 1;
}

/**
 * Step k, second part, over rows [i0, i1) ⊆ [k+2, n): A ← A − u wᵀ − w uᵀ (u = reflector k, w from
 * {@link stepHead}) fused with y += A_new · u_{k+1}, so the trailing triangle streams through memory once
 * per step. Rows are independent but for the sums into y: threads sweeping disjoint row ranges each add
 * into their own y (zeroed), merged by {@link addInto}.
 */
export function stepRows(a: usize, n: i32, k: i32, i0: i32, i1: i32, y: usize, w: usize): void {
  const u = rowAt(a, n, k);
  const next = rowAt(a, n, k + 1);
  let i = i0;
  // Two rows at a time: they share the loads of u, w, u_{k+1} and y (9 memory operations per two columns of
  // both rows instead of 14).
  for (; i + 1 < i1; i += 2) {
    const row0 = rowAt(a, n, i);
    const row1 = rowAt(a, n, i + 1);
    const u0 = load<f64>(at(u, i));
    const w0 = load<f64>(at(w, i));
    const v0 = load<f64>(at(next, i));
    const u1 = load<f64>(at(u, i + 1));
    const w1 = load<f64>(at(w, i + 1));
    const v1 = load<f64>(at(next, i + 1));
    const a00 = load<f64>(at(row0, i)) - 2 * u0 * w0;
    store<f64>(at(row0, i), a00);
    // Row i at column i + 1, the column row i + 1 starts with (its diagonal).
    const a01 = load<f64>(at(row0, i + 1)) - u0 * w1 - w0 * u1;
    store<f64>(at(row0, i + 1), a01);
    const a11 = load<f64>(at(row1, i + 1)) - 2 * u1 * w1;
    store<f64>(at(row1, i + 1), a11);
    let dot0 = a00 * v0 + a01 * v1;
    let dot1 = a11 * v1;
    // y[i + 1] gets row i's column i + 1 by symmetry.
    let yNext = a01 * v0;
    const u0v = f64x2.splat(u0);
    const w0v = f64x2.splat(w0);
    const v0v = f64x2.splat(v0);
    const u1v = f64x2.splat(u1);
    const w1v = f64x2.splat(w1);
    const v1v = f64x2.splat(v1);
    let acc0 = f64x2.splat(0);
    let acc1 = f64x2.splat(0);
    let j = i + 2;
    for (; j + 1 < n; j += 2) {
      const wj = v128.load(at(w, j));
      const uj = v128.load(at(u, j));
      const nj = v128.load(at(next, j));
      const p0 = at(row0, j);
      const p1 = at(row1, j);
      const b0 = f64x2.sub(f64x2.sub(v128.load(p0), f64x2.mul(u0v, wj)), f64x2.mul(w0v, uj));
      const b1 = f64x2.sub(f64x2.sub(v128.load(p1), f64x2.mul(u1v, wj)), f64x2.mul(w1v, uj));
      v128.store(p0, b0);
      v128.store(p1, b1);
      acc0 = f64x2.add(acc0, f64x2.mul(b0, nj));
      acc1 = f64x2.add(acc1, f64x2.mul(b1, nj));
      const yp = at(y, j);
      v128.store(yp, f64x2.add(v128.load(yp), f64x2.add(f64x2.mul(b0, v0v), f64x2.mul(b1, v1v))));
    }
    dot0 += f64x2.extract_lane(acc0, 0) + f64x2.extract_lane(acc0, 1);
    dot1 += f64x2.extract_lane(acc1, 0) + f64x2.extract_lane(acc1, 1);
    for (; j < n; j++) {
      const wj = load<f64>(at(w, j));
      const uj = load<f64>(at(u, j));
      const nj = load<f64>(at(next, j));
      const b0 = load<f64>(at(row0, j)) - u0 * wj - w0 * uj;
      const b1 = load<f64>(at(row1, j)) - u1 * wj - w1 * uj;
      store<f64>(at(row0, j), b0);
      store<f64>(at(row1, j), b1);
      dot0 += b0 * nj;
      dot1 += b1 * nj;
      store<f64>(at(y, j), load<f64>(at(y, j)) + b0 * v0 + b1 * v1);
    }
    store<f64>(at(y, i), load<f64>(at(y, i)) + dot0);
    store<f64>(at(y, i + 1), load<f64>(at(y, i + 1)) + dot1 + yNext);
  }
  for (; i < i1; i++) {
    const row = rowAt(a, n, i);
    const ui = load<f64>(at(u, i));
    const wi = load<f64>(at(w, i));
    const vi = load<f64>(at(next, i));
    const pii = at(row, i);
    const aii = load<f64>(pii) - 2 * ui * wi;
    store<f64>(pii, aii);
    let dot = aii * vi;
    const uiv = f64x2.splat(ui);
    const wiv = f64x2.splat(wi);
    const viv = f64x2.splat(vi);
    let acc = f64x2.splat(0);
    let j = i + 1;
    for (; j + 1 < n; j += 2) {
      const p = at(row, j);
      const aj = f64x2.sub(f64x2.sub(v128.load(p), f64x2.mul(uiv, v128.load(at(w, j)))), f64x2.mul(wiv, v128.load(at(u, j))));
      v128.store(p, aj);
      acc = f64x2.add(acc, f64x2.mul(aj, v128.load(at(next, j))));
      const yp = at(y, j);
      v128.store(yp, f64x2.add(v128.load(yp), f64x2.mul(aj, viv)));
    }
    dot += f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
    for (; j < n; j++) {
      const p = at(row, j);
      const aj = load<f64>(p) - ui * load<f64>(at(w, j)) - wi * load<f64>(at(u, j));
      store<f64>(p, aj);
      dot += aj * load<f64>(at(next, j));
      store<f64>(at(y, j), load<f64>(at(y, j)) + aj * vi);
    }
    store<f64>(at(y, i), load<f64>(at(y, i)) + dot);
  }
}

/** y[j] += other[j] and other[j] = 0, for j in [from, n) (merges a thread's sums). */
export function addInto(y: usize, other: usize, from: i32, n: i32): void {
  for (let j = from; j < n; j++) {
    const p = at(other, j);
    store<f64>(at(y, j), load<f64>(at(y, j)) + load<f64>(p));
    store<f64>(p, 0);
  }
}

/** dst[c] += f · src[c] for c in [0, w), two columns per SIMD operation. */
function axpy(dst: usize, src: usize, f: f64, w: i32): void {
  const fv = f64x2.splat(f);
  let c = 0;
  for (; c + 1 < w; c += 2) v128.store(at(dst, c), f64x2.add(v128.load(at(dst, c)), f64x2.mul(fv, v128.load(at(src, c)))));
  if (c < w) store<f64>(at(dst, c), load<f64>(at(dst, c)) + f * load<f64>(at(src, c)));
}

/** Row r of Z (`zr`, w columns) into Y: y_j += v_j[r] · zr for the block's first `count` reflectors. */
function rowIntoY(a: usize, n: i32, kLow: i32, count: i32, r: i32, zr: usize, s: usize, w: i32): void {
  for (let j = 0; j < count; j++) {
    const v = load<f64>(at(rowAt(a, n, kLow + j), r));
    if (v != 0) axpy(at(s, j * w), zr, v, w);
  }
}

/** Row q of Z (`zr`, w columns) less V S there: zr −= v_j[q] · s_j for the block's first `count` reflectors. */
function rowLessVS(a: usize, n: i32, kLow: i32, count: i32, q: i32, zr: usize, s: usize, w: i32): void {
  for (let j = 0; j < count; j++) {
    const v = load<f64>(at(rowAt(a, n, kLow + j), q));
    if (v != 0) axpy(zr, at(s, j * w), -v, w);
  }
}

/** Largest block of {@link applyBlock} (the strides of its work arrays). */
const BLOCK: i32 = 32;

/**
 * Z ← H_kLow ⋯ H_kHigh Z on columns [c0, c1) of Z (`stride` values per row), for a block of at most 32
 * reflectors, blocked: Y = Vᵀ Z (V: the block's reflectors as columns), the coefficients
 * S by s_j = τ_j (y_j − Σ_{m>j} (v_jᵀ v_m) s_m) (that is H_kHigh applied first, then the next one down), then
 * Z −= V S. Z streams from memory twice per block instead of twice per reflector (as applying them one by one does),
 * and four rows are combined per pass over a row of S. Work: `g` [32 × 32] f64, `s` [32 × (c1 − c0)] f64,
 * `p` [32 × 4] v128. Column ranges are independent of each other (threads may take one each).
 */
export function applyBlock(a: usize, n: i32, kLow: i32, kHigh: i32, taus: usize, z: usize, stride: i32, c0: i32, c1: i32, g: usize, s: usize, p: usize): void {
  const b = kHigh - kLow + 1;
  const w = c1 - c0;
  const pairs = w & ~1;
  // G: v_jᵀ v_m for j < m, over the rows where both are stored (from k_m + 1).
  for (let j = 0; j < b; j++) {
    const vj = rowAt(a, n, kLow + j);
    for (let m = j + 1; m < b; m++) {
      const vm = rowAt(a, n, kLow + m);
      let r = kLow + m + 1;
      let acc = f64x2.splat(0);
      for (; r + 1 < n; r += 2) acc = f64x2.add(acc, f64x2.mul(v128.load(at(vj, r)), v128.load(at(vm, r))));
      let dot = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
      for (; r < n; r++) dot += load<f64>(at(vj, r)) * load<f64>(at(vm, r));
      store<f64>(at(g, j * BLOCK + m), dot);
    }
  }
  // Y = Vᵀ Z into s.
  for (let i = 0; i < b * w; i++) store<f64>(at(s, i), 0);
  // Rows kLow+1 … kHigh: reflector j is stored from row kLow + j + 1 on.
  for (let r = kLow + 1; r <= kHigh && r < n; r++) rowIntoY(a, n, kLow, r - kLow, r, at(rowAt(z, stride, r), c0), s, w);
  // Rows below the block, four at a time: every reflector of the block is stored there.
  let r = kHigh + 1;
  for (; r + 3 < n; r += 4) {
    const z0 = at(rowAt(z, stride, r), c0);
    const z1 = at(rowAt(z, stride, r + 1), c0);
    const z2 = at(rowAt(z, stride, r + 2), c0);
    const z3 = at(rowAt(z, stride, r + 3), c0);
    for (let j = 0; j < b; j++) {
      const vr = at(rowAt(a, n, kLow + j), r);
      const v0 = load<f64>(vr);
      const v1 = load<f64>(vr, 8);
      const v2 = load<f64>(vr, 16);
      const v3 = load<f64>(vr, 24);
      const w0 = f64x2.splat(v0);
      const w1 = f64x2.splat(v1);
      const w2 = f64x2.splat(v2);
      const w3 = f64x2.splat(v3);
      const sj = at(s, j * w);
      let c = 0;
      for (; c < pairs; c += 2) {
        const sum = f64x2.add(
          f64x2.add(f64x2.mul(w0, v128.load(at(z0, c))), f64x2.mul(w1, v128.load(at(z1, c)))),
          f64x2.add(f64x2.mul(w2, v128.load(at(z2, c))), f64x2.mul(w3, v128.load(at(z3, c)))),
        );
        v128.store(at(sj, c), f64x2.add(v128.load(at(sj, c)), sum));
      }
      if (c < w) {
        store<f64>(
          at(sj, c),
          load<f64>(at(sj, c)) + (v0 * load<f64>(at(z0, c)) + v1 * load<f64>(at(z1, c))) + (v2 * load<f64>(at(z2, c)) + v3 * load<f64>(at(z3, c))),
        );
      }
    }
  }
  for (; r < n; r++) rowIntoY(a, n, kLow, b, r, at(rowAt(z, stride, r), c0), s, w);
  // S from Y, the last reflector first.
  for (let j = b - 1; j >= 0; j--) {
    const sj = at(s, j * w);
    const tau = load<f64>(at(taus, kLow + j));
    for (let m = j + 1; m < b; m++) {
      const f = load<f64>(at(g, j * BLOCK + m));
      if (f != 0) axpy(sj, at(s, m * w), -f, w);
    }
    const tv = f64x2.splat(tau);
    let c = 0;
    for (; c < pairs; c += 2) v128.store(at(sj, c), f64x2.mul(tv, v128.load(at(sj, c))));
    if (c < w) store<f64>(at(sj, c), tau * load<f64>(at(sj, c)));
  }
  // Z −= V S.
  for (let q = kLow + 1; q <= kHigh && q < n; q++) rowLessVS(a, n, kLow, q - kLow, q, at(rowAt(z, stride, q), c0), s, w);
  let q = kHigh + 1;
  for (; q + 3 < n; q += 4) {
    // The block's reflector entries of these four rows, splatted once.
    for (let j = 0; j < b; j++) {
      const vr = at(rowAt(a, n, kLow + j), q);
      const pj = p + (<usize>j << 6);
      v128.store(pj, f64x2.splat(load<f64>(vr)));
      v128.store(pj, f64x2.splat(load<f64>(vr, 8)), 16);
      v128.store(pj, f64x2.splat(load<f64>(vr, 16)), 32);
      v128.store(pj, f64x2.splat(load<f64>(vr, 24)), 48);
    }
    const z0 = at(rowAt(z, stride, q), c0);
    const z1 = at(rowAt(z, stride, q + 1), c0);
    const z2 = at(rowAt(z, stride, q + 2), c0);
    const z3 = at(rowAt(z, stride, q + 3), c0);
    let c = 0;
    for (; c < pairs; c += 2) {
      let a0 = v128.load(at(z0, c));
      let a1 = v128.load(at(z1, c));
      let a2 = v128.load(at(z2, c));
      let a3 = v128.load(at(z3, c));
      for (let j = 0; j < b; j++) {
        const sv = v128.load(at(s, j * w + c));
        const pj = p + (<usize>j << 6);
        a0 = f64x2.sub(a0, f64x2.mul(v128.load(pj), sv));
        a1 = f64x2.sub(a1, f64x2.mul(v128.load(pj, 16), sv));
        a2 = f64x2.sub(a2, f64x2.mul(v128.load(pj, 32), sv));
        a3 = f64x2.sub(a3, f64x2.mul(v128.load(pj, 48), sv));
      }
      v128.store(at(z0, c), a0);
      v128.store(at(z1, c), a1);
      v128.store(at(z2, c), a2);
      v128.store(at(z3, c), a3);
    }
    if (c < w) {
      let a0 = load<f64>(at(z0, c));
      let a1 = load<f64>(at(z1, c));
      let a2 = load<f64>(at(z2, c));
      let a3 = load<f64>(at(z3, c));
      for (let j = 0; j < b; j++) {
        const sv = load<f64>(at(s, j * w + c));
        const vr = at(rowAt(a, n, kLow + j), q);
        a0 -= load<f64>(vr) * sv;
        a1 -= load<f64>(vr, 8) * sv;
        a2 -= load<f64>(vr, 16) * sv;
        a3 -= load<f64>(vr, 24) * sv;
      }
      store<f64>(at(z0, c), a0);
      store<f64>(at(z1, c), a1);
      store<f64>(at(z2, c), a2);
      store<f64>(at(z3, c), a3);
    }
  }
  for (; q < n; q++) rowLessVS(a, n, kLow, b, q, at(rowAt(z, stride, q), c0), s, w);
}

/**
 * R⁻¹ for the Cholesky factor R = Lᵀ of the symmetric positive definite `[b, b]` row-major G at `g`
 * (G = L Lᵀ): L row-major into `l`, R⁻¹ row-major into `inv` (row j of R⁻¹ is column j of L⁻¹). Returns 0,
 * leaving them partial, when a pivot falls to `pivotFloor` × G's largest diagonal entry or below, or when
 * R⁻¹ is not finite; 1 otherwise. The same operations in the same order as the JavaScript it replaces
 * (`inverseCholeskyFactor` in src/top-eigenpairs.ts), which V8 ran unoptimised in a fit's one call.
 */
export function inverseCholesky(g: usize, b: i32, pivotFloor: f64, l: usize, inv: usize): i32 {
  let largest: f64 = 0;
  for (let i = 0; i < b; i++) largest = Math.max(largest, load<f64>(at(g, i * b + i)));
  for (let i = 0; i < b; i++) {
    const rowI = i * b;
    for (let j = 0; j <= i; j++) {
      const rowJ = j * b;
      let sum = load<f64>(at(g, rowI + j));
      for (let p = 0; p < j; p++) sum -= load<f64>(at(l, rowI + p)) * load<f64>(at(l, rowJ + p));
      if (i == j) {
        if (!(sum > pivotFloor * largest)) return 0;
        store<f64>(at(l, rowI + i), Math.sqrt(sum));
      } else {
        store<f64>(at(l, rowI + j), sum / load<f64>(at(l, rowJ + j)));
      }
    }
  }
  for (let j = 0; j < b; j++) {
    const x = at(inv, j * b);
    for (let i = 0; i < j; i++) store<f64>(at(x, i), 0);
    store<f64>(at(x, j), 1 / load<f64>(at(l, j * b + j)));
    for (let i = j + 1; i < b; i++) {
      const rowI = i * b;
      let sum: f64 = 0;
      for (let p = j; p < i; p++) sum += load<f64>(at(l, rowI + p)) * load<f64>(at(x, p));
      store<f64>(at(x, i), -sum / load<f64>(at(l, rowI + i)));
    }
  }
  for (let i = 0; i < b * b; i++) {
    const value = load<f64>(at(inv, i));
    if (value - value != 0) return 0;
  }
  return 1;
}

/**
 * Sturm counts for eight probes at once (the bisection of src/dense-eigen.ts): i32 counts[t] = the number of
 * eigenvalues of the symmetric tridiagonal (d, e² = `e2`, `e2[i]` coupling i and i + 1) below f64 probes[t],
 * from the LDLᵀ pivots of T − xI; a pivot below `pivotFloor` in magnitude is taken as −pivotFloor (as
 * LAPACK's DLANEG does). Each recurrence is a chain of dependent divisions: eight of them, two per SIMD
 * vector, run interleaved (the same operations per lane as a scalar recurrence).
 */
function sturmCounts(d: usize, e2: usize, n: i32, probes: usize, pivotFloor: f64, counts: usize): void {
  const x0 = v128.load(probes);
  const x1 = v128.load(probes, 16);
  const x2 = v128.load(probes, 32);
  const x3 = v128.load(probes, 48);
  const floor = f64x2.splat(pivotFloor);
  const negativeFloor = f64x2.splat(-pivotFloor);
  const zero = f64x2.splat(0);
  const d0 = f64x2.splat(load<f64>(d));
  let q0 = f64x2.sub(d0, x0);
  let q1 = f64x2.sub(d0, x1);
  let q2 = f64x2.sub(d0, x2);
  let q3 = f64x2.sub(d0, x3);
  let c0 = i64x2.splat(0);
  let c1 = i64x2.splat(0);
  let c2 = i64x2.splat(0);
  let c3 = i64x2.splat(0);
  for (let i = 1; ; i++) {
    q0 = v128.bitselect(negativeFloor, q0, f64x2.lt(f64x2.abs(q0), floor));
    q1 = v128.bitselect(negativeFloor, q1, f64x2.lt(f64x2.abs(q1), floor));
    q2 = v128.bitselect(negativeFloor, q2, f64x2.lt(f64x2.abs(q2), floor));
    q3 = v128.bitselect(negativeFloor, q3, f64x2.lt(f64x2.abs(q3), floor));
    // A lane's comparison is all ones (−1 as an i64) when true: subtracting it counts.
    c0 = i64x2.sub(c0, f64x2.lt(q0, zero));
    c1 = i64x2.sub(c1, f64x2.lt(q1, zero));
    c2 = i64x2.sub(c2, f64x2.lt(q2, zero));
    c3 = i64x2.sub(c3, f64x2.lt(q3, zero));
    if (i == n) break;
    const di = f64x2.splat(load<f64>(at(d, i)));
    const ei = f64x2.splat(load<f64>(at(e2, i - 1)));
    q0 = f64x2.sub(f64x2.sub(di, x0), f64x2.div(ei, q0));
    q1 = f64x2.sub(f64x2.sub(di, x1), f64x2.div(ei, q1));
    q2 = f64x2.sub(f64x2.sub(di, x2), f64x2.div(ei, q2));
    q3 = f64x2.sub(f64x2.sub(di, x3), f64x2.div(ei, q3));
  }
  v128.store(counts, i32x4.shuffle(c0, c1, 0, 2, 4, 6));
  v128.store(counts, i32x4.shuffle(c2, c3, 0, 2, 4, 6), 16);
}

/**
 * The bisection rounds of src/dense-eigen.ts for one group of eigenvalues j … j + group − 1 (descending, group ≤ 8),
 * bracketed by the f64 × 8 arrays `lo` and `hi` (each eigenvalue lies in its bracket): each round probes the
 * brackets' midpoints (lanes past `group` repeat the first probe), counts with {@link sturmCounts} into `counts`,
 * and narrows every bracket with every count — count c below probe x puts eigenvalue m at or above x when
 * m ≤ n − 1 − c, below it otherwise — until every bracket is at most max(tolerance, 2ε·max(|lo|, |hi|)) wide, or
 * for 200 rounds. The same operations in the same order as the JavaScript loop it replaces, which V8 ran
 * unoptimised in a fit's one call (boxing every double it computed).
 */
export function bisectGroup(
  d: usize,
  e2: usize,
  n: i32,
  j: i32,
  group: i32,
  lo: usize,
  hi: usize,
  tolerance: f64,
  epsilon: f64,
  pivotFloor: f64,
  probes: usize,
  counts: usize,
): void {
  for (let round = 0; round < 200; round++) {
    let open = 0;
    for (let t = 0; t < 8; t++) {
      if (t < group) {
        const l = load<f64>(at(lo, t));
        const h = load<f64>(at(hi, t));
        store<f64>(at(probes, t), 0.5 * (l + h));
        if (h - l > Math.max(tolerance, 2 * epsilon * Math.max(Math.abs(l), Math.abs(h)))) open++;
      } else {
        store<f64>(at(probes, t), load<f64>(probes));
      }
    }
    if (open == 0) return;
    sturmCounts(d, e2, n, probes, pivotFloor, counts);
    for (let t = 0; t < group; t++) {
      const x = load<f64>(at(probes, t));
      const above = n - 1 - load<i32>(counts + (<usize>t << 2));
      for (let u = 0; u < group; u++) {
        if (j + u <= above) store<f64>(at(lo, u), Math.max(load<f64>(at(lo, u)), x));
        else store<f64>(at(hi, u), Math.min(load<f64>(at(hi, u)), x));
      }
    }
  }
}

/** x / ‖x‖₂ in place over n entries; 0 when x is zero or not finite, 1 otherwise. */
function normalise(x: usize, n: i32): i32 {
  let largest: f64 = 0;
  for (let i = 0; i < n; i++) largest = Math.max(largest, Math.abs(load<f64>(at(x, i))));
  if (!(largest > 0) || largest - largest != 0) return 0;
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) {
    const value = load<f64>(at(x, i)) / largest;
    store<f64>(at(x, i), value);
    sum += value * value;
  }
  const inverse = 1 / Math.sqrt(sum);
  for (let i = 0; i < n; i++) store<f64>(at(x, i), load<f64>(at(x, i)) * inverse);
  return 1;
}

/**
 * One eigenvector of the symmetric tridiagonal (d, e) by inverse iteration, into column j of the `[n, stride]`
 * row-major Z at `z`: LU with partial pivoting of T − λI (pivots below `tiny` in magnitude replaced by ±tiny:
 * T − λI is singular to working precision at an eigenvalue, which inverse iteration exploits), then
 * `iterations` solves from a seeded random start (xorshift32, its u32 state at `rng`, carried from vector to
 * vector), each but the first from the normalised vector, each followed by modified Gram–Schmidt against
 * columns [clusterStart, j) of Z. Work `lu`: 7n f64 (U's three diagonals, 1/U's diagonal, the multipliers,
 * the row swaps, x). Returns 1, or 0 when the vector vanished (Z's column then untouched).
 */
export function inverseVector(d: usize, e: usize, n: i32, lambda: f64, tiny: f64, iterations: i32, z: usize, stride: i32, j: i32, clusterStart: i32, lu: usize, rng: usize): i32 {
  const u0 = lu;
  const inverse0 = at(lu, n);
  const u1 = at(lu, 2 * n);
  const u2 = at(lu, 3 * n);
  const multipliers = at(lu, 4 * n);
  const swapped = at(lu, 5 * n);
  const x = at(lu, 6 * n);
  // The factorisation. The row still being eliminated: (p at column i, q at column i + 1).
  let p = load<f64>(d) - lambda;
  let q: f64 = n > 1 ? load<f64>(e) : 0;
  for (let i = 0; i < n - 1; i++) {
    const below = load<f64>(at(e, i));
    const nextDiagonal = load<f64>(at(d, i + 1)) - lambda;
    const nextSuper: f64 = i + 1 < n - 1 ? load<f64>(at(e, i + 1)) : 0;
    if (Math.abs(p) >= Math.abs(below)) {
      const pivot = Math.abs(p) < tiny ? (p >= 0 ? tiny : -tiny) : p;
      const m = below / pivot;
      store<f64>(at(u0, i), pivot);
      store<f64>(at(u1, i), q);
      store<f64>(at(u2, i), 0);
      store<f64>(at(multipliers, i), m);
      store<f64>(at(swapped, i), 0);
      p = nextDiagonal - m * q;
      q = nextSuper;
    } else {
      const m = p / below;
      store<f64>(at(u0, i), below);
      store<f64>(at(u1, i), nextDiagonal);
      store<f64>(at(u2, i), nextSuper);
      store<f64>(at(multipliers, i), m);
      store<f64>(at(swapped, i), 1);
      p = q - m * nextDiagonal;
      q = -m * nextSuper;
    }
  }
  store<f64>(at(u0, n - 1), Math.abs(p) < tiny ? (p >= 0 ? tiny : -tiny) : p);
  for (let i = 0; i < n; i++) store<f64>(at(inverse0, i), 1 / load<f64>(at(u0, i)));
  // The random start in [−½, ½).
  let state = load<u32>(rng);
  for (let i = 0; i < n; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    store<f64>(at(x, i), (<f64>state + 0.5) / 4294967296.0 - 0.5);
  }
  store<u32>(rng, state);
  for (let iteration = 0; iteration < iterations; iteration++) {
    // The random start is bounded already; later ones are normalised so repeated growth cannot overflow.
    if (iteration > 0) normalise(x, n);
    // x ← (T − λI)⁻¹ x.
    for (let i = 0; i < n - 1; i++) {
      if (load<f64>(at(swapped, i)) != 0) {
        const t = load<f64>(at(x, i));
        store<f64>(at(x, i), load<f64>(at(x, i + 1)));
        store<f64>(at(x, i + 1), t);
      }
      store<f64>(at(x, i + 1), load<f64>(at(x, i + 1)) - load<f64>(at(multipliers, i)) * load<f64>(at(x, i)));
    }
    store<f64>(at(x, n - 1), load<f64>(at(x, n - 1)) * load<f64>(at(inverse0, n - 1)));
    if (n > 1) store<f64>(at(x, n - 2), (load<f64>(at(x, n - 2)) - load<f64>(at(u1, n - 2)) * load<f64>(at(x, n - 1))) * load<f64>(at(inverse0, n - 2)));
    for (let i = n - 3; i >= 0; i--) {
      const value = load<f64>(at(x, i)) - load<f64>(at(u1, i)) * load<f64>(at(x, i + 1)) - load<f64>(at(u2, i)) * load<f64>(at(x, i + 2));
      store<f64>(at(x, i), value * load<f64>(at(inverse0, i)));
    }
    for (let c = clusterStart; c < j; c++) {
      let dot: f64 = 0;
      for (let i = 0; i < n; i++) dot += load<f64>(at(z, i * stride + c)) * load<f64>(at(x, i));
      for (let i = 0; i < n; i++) store<f64>(at(x, i), load<f64>(at(x, i)) - dot * load<f64>(at(z, i * stride + c)));
    }
  }
  if (normalise(x, n) == 0) return 0;
  for (let i = 0; i < n; i++) store<f64>(at(z, i * stride + j), load<f64>(at(x, i)));
  return 1;
}

/**
 * sums[j] += rows[r, j] (float32 → float64) for the `count` rows of the `[count, d]` row-major float32 block
 * at `rows`: each column summed row after row, in order (the Gram route's column means, src/centred-products.ts).
 */
export function columnSums(rows: usize, count: i32, d: i32, sums: usize): void {
  for (let r = 0; r < count; r++) {
    const row = rows + ((<usize>r * <usize>d) << 2);
    let j = 0;
    for (; j + 3 < d; j += 4) {
      const x = v128.load(row + (<usize>j << 2));
      const low = at(sums, j);
      const high = at(sums, j + 2);
      v128.store(low, f64x2.add(v128.load(low), f64x2.promote_low_f32x4(x)));
      v128.store(high, f64x2.add(v128.load(high), f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 0, 1))));
    }
    for (; j < d; j++) store<f64>(at(sums, j), load<f64>(at(sums, j)) + <f64>load<f32>(row + (<usize>j << 2)));
  }
}

/**
 * Centres a `[rows, chunkLength]` row-major float32 chunk in place: its first `width` columns become
 * (x − mean[j]) rounded to float32, then divided by `scale` (a power of two) and rounded again; the columns
 * past `width` become 0. `mean` is float64 (the chunk's columns' means). Returns the largest |x − mean| (of
 * the rounded differences; NaN if one is).
 */
export function centreChunk(chunk: usize, rows: i32, chunkLength: i32, width: i32, mean: usize, scale: f64): f64 {
  let largest: f64 = 0;
  for (let i = 0; i < rows; i++) {
    const row = chunk + ((<usize>i * <usize>chunkLength) << 2);
    for (let j = 0; j < width; j++) {
      const p = row + (<usize>j << 2);
      const value = <f64>(<f32>(<f64>load<f32>(p) - load<f64>(at(mean, j))));
      store<f32>(p, <f32>(value / scale));
      largest = Math.max(largest, Math.abs(value));
    }
    for (let j = width; j < chunkLength; j++) store<f32>(row + (<usize>j << 2), 0);
  }
  return largest;
}
