/**
 * The dense eigensolver and PCA's Gram route in a real browser: Debian's Chromium, headless, driven by
 * playwright-core. Opt-in (`pnpm test:browser`, not part of `pnpm test`): it needs `apt-get install chromium`.
 *
 * test/browser/app.ts is bundled for the browser with esbuild from the sources (the WebAssembly kernels travel
 * inside the bundle as base64) and run in a blank page: a matrix of known spectrum through the solver (its
 * eigenvalues against the known ones, its vectors by their residuals), then a PCA fit on the tfjs cpu backend,
 * whose Gram route uses the solver. The page stays on one thread (no worker threads in a page). The PCA comes back
 * to Node and is compared with the same fit run here.
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PCA } from '../../src/pca';
import type { PageRequest } from './app';
import { eigenQuality } from '../spectra';
import { knownSpectrumMatrix, pcaLikeRows } from './inputs';

const CHROMIUM = process.env.DFM_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const REQUEST: PageRequest = { solver: { n: 600, count: 20, seed: 5 }, pca: { n: 600, d: 1024, seed: 9, level: 0.9 } };

type PageResult = {
  kernels: boolean;
  threads: number;
  crossOriginIsolated: boolean;
  values: string;
  known: string;
  vectors: string;
  solveMs: number;
  k: number;
  singularValues: string;
  components: string;
  fitMs: number;
};

function float64(base64: string): Float64Array {
  const bytes = Buffer.from(base64, 'base64');
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function float32(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

describe('@dfm/linalg in headless Chromium (bundled from the sources with esbuild)', () => {
  let browser: Browser;
  let result: PageResult;

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL('./app.ts', import.meta.url))],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    expect(bundle.errors).toEqual([]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.setContent('<!doctype html><html><head><meta charset="utf-8"><title>@dfm/linalg</title></head><body></body></html>');
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
    result = await page.evaluate((request) => (globalThis as unknown as { dfmLinalgRun: (r: PageRequest) => Promise<PageResult> }).dfmLinalgRun(request), REQUEST);
    expect(errors).toEqual([]);
    process.stdout.write(`[browser] dense solver ${REQUEST.solver.n} rows + ${REQUEST.solver.count} vectors: ${result.solveMs.toFixed(0)} ms; PCA.fit ${REQUEST.pca.n} × ${REQUEST.pca.d} (cpu backend): ${result.fitMs.toFixed(0)} ms\n`);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('runs the WebAssembly kernels in the page, on one thread', () => {
    expect(result.kernels).toBe(true);
    expect(result.crossOriginIsolated).toBe(false);
    expect(result.threads).toBe(1);
  });

  it('finds a known spectrum: eigenvalues within 1e-13 · n, eigenvectors with residuals within 1e-13 · n and orthonormal', () => {
    const { n, count, seed } = REQUEST.solver;
    const values = float64(result.values);
    // The page's known spectrum (its own Math.pow may round the last bit differently from Node's).
    const known = float64(result.known);
    const expected = knownSpectrumMatrix(n, seed);
    expected.values.forEach((value, j) => {
      expect(Math.abs(known[j]! - value)).toBeLessThanOrEqual(1e-15 * value);
    });
    for (let i = 0; i < n; i++) expect(Math.abs(values[i]! - known[i]!)).toBeLessThanOrEqual(1e-13 * n);
    const { residual, orthogonality } = eigenQuality(expected.matrix, n, values, float64(result.vectors), count);
    expect(residual).toBeLessThanOrEqual(1e-13 * n);
    expect(orthogonality).toBeLessThan(1e-10);
  });

  it('fits the same PCA in the page as in Node (the Gram route through the dense solver): k, singular values, components', async () => {
    await tf.setBackend('cpu');
    await tf.ready();
    const { n, d, seed, level } = REQUEST.pca;
    const x = tf.tensor2d(pcaLikeRows(n, d, seed), [n, d]);
    const here = new PCA({ nComponents: level }).fit(x);
    expect(result.k).toBe(here.numComponents);
    const singular = float64(result.singularValues);
    here.singularValues.forEach((value, j) => {
      expect(Math.abs(singular[j]! - value)).toBeLessThanOrEqual(1e-6 * here.singularValues[0]!);
    });
    const components = float32(result.components);
    const expected = here.components.dataSync();
    let largest = 0;
    for (let i = 0; i < expected.length; i++) largest = Math.max(largest, Math.abs(components[i]! - expected[i]!));
    expect(largest).toBeLessThan(1e-4);
    x.dispose();
    here.dispose();
  });
});
