/**
 * The package in a real browser: Debian's Chromium, headless, driven by playwright-core. Opt-in
 * (`pnpm test:browser`, not part of `pnpm test`): it needs `apt-get install chromium`.
 *
 * The built package (dist/) is bundled for the browser with test/browser/app.js as the app, served
 * from 127.0.0.1 with onnxruntime-web's and tfjs-backend-wasm's .wasm files and the weights, and
 * run in the page on the PyTorch fixtures' inputs (rebuilt in the page by the package's own
 * generator). The features come back to Node, where they are compared with the fixtures and with
 * onnxruntime-node run here on the same input, at the fixtures' tolerance (1e-4 × max|feature|).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LayerName } from '../../src/architectures';
import { findAssetsDir } from '../../src/assets';
import { createBackbone } from '../../src/create-backbone';
import { setBackend } from '../../src/set-backend';
import { bundleForBrowser, formatMessages, PACKAGE_DIR } from '../browser-bundle';
import { compareOutputs, compareWithFixture, expectParity, fixtureInput, readFixture } from '../fixture-comparison';
import { type StaticServer, serveStatic } from './serve-static';

const CHROMIUM = process.env.DFM_CHROMIUM ?? '/usr/bin/chromium';
const WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';
// The flags that work on a machine without network access besides the loopback: no background
// connections (each one refused), no GPU. Playwright adds --headless, --no-sandbox (chromiumSandbox
// false) and a fresh --user-data-dir of its own.
const CHROMIUM_FLAGS = [
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface PageResult {
  runtime: string;
  runtimeDetail: string;
  weightsId: string;
  tfjsBackend: string;
  crossOriginIsolated: boolean;
  createMs: number;
  firstMs: number;
  secondMs: number;
  leaked: number;
  features: Record<string, { shape: number[]; base64: string }>;
}

interface PageRequest {
  architecture: string;
  layers: LayerName[];
  runtime: 'onnxruntime' | 'tfjs' | 'auto';
  weights: { bytes: string } | { url: string } | { random: { seed: number; batchNorm: string } };
  onnxruntime?: 'module' | 'by-name';
  threads?: number;
  input: { seed: number; shape: number[] };
}

const require = createRequire(import.meta.url);
const ortDist = dirname(require.resolve('onnxruntime-web')); // its node `require` entry is in dist/
const tfjsWasmDist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
const assets = findAssetsDir({ require: [WEIGHTS] });
if (!assets.found) process.stdout.write(`[browser] SKIPPED the ImageNet-weights cases: ${assets.reason}\n`);

function page(importMap: boolean): string {
  const map = importMap
    ? `<script type="importmap">${JSON.stringify({ imports: { 'onnxruntime-web': '/ort/ort.bundle.min.mjs' } })}</script>\n`
    : '';
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>@dfm/backbone</title><link rel="icon" href="data:,">\n${map}<script type="module" src="/app.js"></script></head><body></body></html>\n`;
}

function featuresToTensors(result: PageResult): Partial<Record<LayerName, tf.Tensor>> {
  const out: Partial<Record<LayerName, tf.Tensor>> = {};
  for (const [layer, { shape, base64 }] of Object.entries(result.features)) {
    const bytes = Buffer.from(base64, 'base64');
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    out[layer as LayerName] = tf.tensor(data, shape);
  }
  return out;
}

function timing(label: string, result: PageResult): void {
  process.stdout.write(
    `[browser] ${label}: ${result.runtimeDetail} | tfjs backend ${result.tfjsBackend}, crossOriginIsolated ${result.crossOriginIsolated} | createBackbone ${result.createMs.toFixed(0)} ms, extractAsync ${result.firstMs.toFixed(0)} ms first, ${result.secondMs.toFixed(0)} ms second\n`,
  );
}

describe('@dfm/backbone in headless Chromium (bundled from dist/ with esbuild)', () => {
  let browser: Browser | undefined;
  let server: StaticServer | undefined;
  let isolatedServer: StaticServer | undefined;
  let outDir: string | undefined;
  const pages: Page[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is not installed (${CHROMIUM} is missing): run apt-get install chromium (Debian, as root), or set DFM_CHROMIUM to a Chromium binary.`);
    }
    if (!existsSync(join(PACKAGE_DIR, 'dist/index.js'))) {
      throw new Error('dist/index.js is missing: run pnpm --filter @dfm/backbone test:browser (it builds first), or pnpm build.');
    }
    outDir = mkdtempSync(join(tmpdir(), 'dfm-browser-'));
    const bundle = await bundleForBrowser({
      entry: readFileSync(join(PACKAGE_DIR, 'test/browser/app.js'), 'utf8'),
      from: 'dist',
      outfile: join(outDir, 'app.js'),
    });
    expect(formatMessages(bundle.errors)).toBe('');
    expect(formatMessages(bundle.warnings)).toBe('');
    expect(bundle.externalImports).toEqual([]);
    expect(bundle.nodeBuiltinImports).toEqual([]);
    process.stdout.write(`[browser] bundle from dist/: ${(bundle.code.length / 1e6).toFixed(2)} MB, no Node built-in imported\n`);

    const routes: Record<string, string> = {
      '/app.js': join(outDir, 'app.js'),
      '/app.js.map': join(outDir, 'app.js.map'),
      '/ort/': ortDist,
      // tfjs-backend-wasm looks for its .wasm files beside the page unless setWasmPaths says otherwise.
      '/tfjs-backend-wasm.wasm': join(tfjsWasmDist, 'tfjs-backend-wasm.wasm'),
      '/tfjs-backend-wasm-simd.wasm': join(tfjsWasmDist, 'tfjs-backend-wasm-simd.wasm'),
      '/tfjs-backend-wasm-threaded-simd.wasm': join(tfjsWasmDist, 'tfjs-backend-wasm-threaded-simd.wasm'),
    };
    if (assets.found) routes[`/${WEIGHTS}`] = join(assets.dir as string, WEIGHTS);
    const pagesHtml = { '/index.html': page(true), '/no-import-map.html': page(false) };
    server = await serveStatic({ routes, pages: pagesHtml });
    isolatedServer = await serveStatic({ routes, pages: pagesHtml, crossOriginIsolated: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false, args: CHROMIUM_FLAGS });
    await setBackend('wasm');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await isolatedServer?.close();
    if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
    if (logs.length > 0) process.stdout.write(`[browser] page console:\n${logs.map((l) => `  ${l}`).join('\n')}\n`);
  });

  async function openPage(path: string, origin = (server as StaticServer).origin): Promise<Page> {
    const context = await (browser as Browser).newContext();
    const opened = await context.newPage();
    opened.on('console', (message) => logs.push(`${path} console.${message.type()}: ${message.text()}`));
    opened.on('pageerror', (error) => logs.push(`${path} page error: ${error.message}`));
    opened.on('response', (response) => {
      if (response.status() >= 400) logs.push(`${path} HTTP ${response.status()} ${response.url()}`);
    });
    await opened.goto(`${origin}${path}`);
    await opened.waitForFunction(() => (globalThis as unknown as { dfmReady?: boolean }).dfmReady === true);
    pages.push(opened);
    return opened;
  }

  const runInPage = (target: Page, request: PageRequest) =>
    target.evaluate((r) => (globalThis as unknown as { dfmRun(r: unknown): Promise<PageResult> }).dfmRun(r), request);

  /** Runs the request in the page; checks it against the fixture and against onnxruntime-node in Node. */
  async function checkCase(
    label: string,
    fixture: string,
    request: Omit<PageRequest, 'input' | 'architecture'>,
    expectedRuntime: string,
    on?: Page,
  ) {
    const target = on ?? pages[0] ?? (await openPage('/'));
    const { testCase } = readFixture(fixture);
    const result = await runInPage(target, { ...request, architecture: testCase.architecture, input: testCase.input });
    timing(label, result);
    expect(result.runtime).toBe(expectedRuntime);
    expect(result.leaked).toBe(0);
    const features = featuresToTensors(result);
    expectParity(`${label} vs torch`, await compareWithFixture(fixture, features, request.layers));
    const input = fixtureInput(testCase.input.seed, testCase.input.shape);
    const weights = 'random' in request.weights ? null : join(assets.dir as string, WEIGHTS);
    const reference = await createBackbone(testCase.architecture, {
      weights,
      seed: testCase.seed,
      randomBatchNorm: testCase.batch_norm,
      layers: request.layers,
      runtime: 'onnxruntime',
      onnxruntimePackage: 'onnxruntime-node',
    });
    const expected = await reference.extractAsync(input);
    expectParity(`${label} vs onnxruntime-node in Node`, await compareOutputs(expected, features, request.layers));
    tf.dispose([input, ...Object.values(expected), ...Object.values(features)]);
    reference.dispose();
    return result;
  }

  const random = { random: { seed: 0, batchNorm: 'random' } };
  const randomFixture = 'resnet18-random-bn-65x47';
  const randomLayers = readFixture(randomFixture).testCase.layers;
  const randomWeights = () => ({ random: { seed: readFixture(randomFixture).testCase.seed ?? 0, batchNorm: 'random' } });

  it('onnxruntime runtime, onnxruntime-web passed as onnxruntimeModule (the bundled copy): resnet18 random BN 65×47, layer1..avgpool', async () => {
    const result = await checkCase('onnxruntime-web (module) random', randomFixture, { layers: randomLayers, runtime: 'onnxruntime', weights: randomWeights(), onnxruntime: 'module' }, 'onnxruntime');
    expect(result.runtimeDetail).toMatch(/^onnxruntime: requested: onnxruntime-web 1\.30\.0, wasm EP, 1 thread$/);
  });

  it('tfjs runtime on its default browser backend (setBackend auto → wasm): resnet18 random BN 65×47, layer1..avgpool', async () => {
    const result = await checkCase('tfjs random', randomFixture, { layers: randomLayers, runtime: 'tfjs', weights: randomWeights() }, 'tfjs');
    expect(result.tfjsBackend).toBe('wasm');
  });

  it.runIf(assets.found)('onnxruntime runtime, ImageNet weights as bytes: resnet18 layer3 on the 2×256×256 fixture input', async () => {
    const result = await checkCase('onnxruntime-web (module) imagenet', 'resnet18-imagenet-256', { layers: ['layer3'], runtime: 'onnxruntime', weights: { bytes: `/${WEIGHTS}` }, onnxruntime: 'module' }, 'onnxruntime');
    expect(result.weightsId).toMatch(/^bytes:7c27e7491f3832cc$/);
  });

  it.runIf(assets.found)('tfjs runtime, ImageNet weights as bytes: resnet18 layer3 on the 2×256×256 fixture input', async () => {
    const result = await checkCase('tfjs imagenet', 'resnet18-imagenet-256', { layers: ['layer3'], runtime: 'tfjs', weights: { bytes: `/${WEIGHTS}` } }, 'tfjs');
    expect(result.tfjsBackend).toBe('wasm');
  });

  it.runIf(assets.found)('onnxruntime-web imported by name through the page\'s import map, weights as a URL the package fetches', async () => {
    const result = await checkCase('onnxruntime-web (by name) imagenet', 'resnet18-imagenet-256', { layers: ['layer3'], runtime: 'onnxruntime', weights: { url: `/${WEIGHTS}` }, onnxruntime: 'by-name' }, 'onnxruntime');
    expect(result.weightsId).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/weights\/resnet18-imagenet-layer1-3\.safetensors$/);
  });

  it.runIf(assets.found)('cross-origin isolated page (COOP + COEP): onnxruntime-web on 2 threads, and tfjs-wasm', async () => {
    const target = await openPage('/', (isolatedServer as StaticServer).origin);
    const request = { layers: ['layer3'] as LayerName[], weights: { bytes: `/${WEIGHTS}` } };
    const web = await checkCase('isolated onnxruntime-web (module, 2 threads) imagenet', 'resnet18-imagenet-256', { ...request, runtime: 'onnxruntime', onnxruntime: 'module', threads: 2 }, 'onnxruntime', target);
    expect(web.crossOriginIsolated).toBe(true);
    expect(web.runtimeDetail).toMatch(/onnxruntime-web 1\.30\.0, wasm EP, 2 threads$/);
    const tfjs = await checkCase('isolated tfjs imagenet', 'resnet18-imagenet-256', { ...request, runtime: 'tfjs' }, 'tfjs', target);
    expect(tfjs.tfjsBackend).toBe('wasm');
  });

  it('without onnxruntimeModule or an import map the onnxruntime runtime says how to fix it, and auto falls back to tfjs', async () => {
    const target = await openPage('/no-import-map.html');
    const request = { architecture: 'resnet18', layers: ['layer1' as LayerName], weights: random, input: { seed: 1, shape: [1, 32, 32, 3] } };
    const message = await target.evaluate((r) => (globalThis as unknown as { dfmRunError(r: unknown): Promise<string | undefined> }).dfmRunError(r), {
      ...request,
      runtime: 'onnxruntime',
      onnxruntime: 'by-name',
    });
    expect(message).toMatch(
      /^createBackbone\(\): runtime 'onnxruntime' needs onnxruntime — onnxruntime-web could not be imported by name \(.*\); a bundled app must pass the module it imports as onnxruntimeModule.*In a browser: npm install onnxruntime-web, import \* as ort from 'onnxruntime-web' and pass \{ onnxruntimeModule: ort \}/,
    );
    const auto = await runInPage(target, { ...request, runtime: 'auto', onnxruntime: 'by-name' });
    expect(auto.runtime).toBe('tfjs');
    expect(auto.runtimeDetail).toMatch(/^auto: tfjs \(onnxruntime-web could not be imported by name/);
  });
});
