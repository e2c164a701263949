/**
 * `dfm export`'s folder in a real browser: Debian's Chromium, headless, driven by playwright-core.
 * Opt-in (`pnpm test:browser`, not part of `pnpm test`): it needs `apt-get install chromium`, and the
 * package built (the script builds it first: dist/browser/ holds dfm.js and the .wasm files).
 *
 * Each export folder is copied to a temp folder of its own, with no node_modules anywhere, and
 * served from 127.0.0.1 by a plain static server. The pages import `./dfm.js` and nothing else.
 *
 * 1. Bottle (development assets; skipped with the reason when absent): `dfm train` (resnet18/layer3,
 *    256 px) → `dfm export`; the 83 bottle test PNGs, fetched by the page and decoded by the browser
 *    (Blob → detector.predict), score as `dfm predict --json` scores them: every score within 1e-4
 *    relative, every label equal, on both runtimes (tfjs-wasm and onnxruntime-web).
 * 2. A model with a custom PreProcessor({ mean, std }) (random weights, 64 px) scores the same in
 *    Node (loadDetector(folder)) and in the browser: the model file's pre-processing round-trips.
 * 3. No file of an export folder holds an absolute path of this machine.
 * 4. index.html: a defective bottle given to its file input shows the score, the label and the
 *    heatmap; a screenshot is saved for people to look at (its path is printed).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findAssetsDir, findWorkspaceRoot } from '@dfm/backbone/internal';
import { loadDetector } from '@dfm/core';
import { Folder } from '@dfm/data';
import { Dfm, Engine, PreProcessor } from '@dfm/lightning-like';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSyntheticDataset } from '../../../lightning-like/test/synthetic-dataset';
import { type StaticServer, serveStatic } from '../../../backbone/test/browser/serve-static';
import { run } from '../fixtures';

const CHROMIUM = process.env.DFM_CHROMIUM ?? '/usr/bin/chromium';
// As the backbone's browser test: no background connections, no GPU. Playwright adds --headless,
// --no-sandbox (chromiumSandbox false) and a fresh --user-data-dir of its own.
const CHROMIUM_FLAGS = ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';
const BOTTLE = 'data/mvtec-bottle';
const SCORE_TOLERANCE = 1e-4;
const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));
const REPO_ROOT = findWorkspaceRoot(PACKAGE_DIR) as string;
const SCREENSHOT = join(tmpdir(), 'dfm-export-page.png');

const assets = findAssetsDir({ require: [WEIGHTS, BOTTLE], from: PACKAGE_DIR });
if (!assets.found) process.stdout.write(`[export-browser] SKIPPED the bottle cases (real model, dfm predict parity, screenshot): ${assets.reason}\n`);

/** The test page: dfm.js from the folder, one function the test calls. */
const TEST_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>dfm.js test</title><link rel="icon" href="data:,">
<script type="module">
  import * as dfm from './dfm.js';
  // Loads the folder's model on a runtime, scores the images (fetched, handed over as Blobs for the
  // browser to decode), returns plain numbers.
  window.dfmScore = async ({ runtime, images, source }) => {
    const started = performance.now();
    const detector = await dfm.loadDetector(source, runtime === undefined ? {} : { runtime });
    const loadMs = performance.now() - started;
    const results = [];
    for (const url of images) {
      const blob = await (await fetch(url)).blob();
      const t0 = performance.now();
      const r = await detector.predict(blob);
      results.push({
        url,
        predScore: r.predScore,
        normalizedScore: r.normalizedScore,
        predLabel: r.predLabel,
        map: r.anomalyMap ? [r.anomalyMap.width, r.anomalyMap.height] : null,
        ms: performance.now() - t0,
      });
    }
    const { runtime: used, runtimeDetail, preProcessing } = detector.info;
    await detector.close();
    return { runtime: used, runtimeDetail, preProcessing, loadMs, results };
  };
  window.dfmExports = Object.keys(dfm).sort();
  window.dfmReady = true;
</script></head><body></body></html>
`;

/** What index.html shows, read in the page (a function's source: this package type-checks without the DOM library). */
const PAGE_STATE = `(async () => {
  const canvas = document.getElementById('view');
  const toggle = document.getElementById('show-heatmap');
  const pixels = () => canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const drawn = async (what) => { while (canvas.dataset.rendered !== what) await new Promise((r) => setTimeout(r, 20)); };
  const withHeatmap = pixels();
  const rendered = canvas.dataset.rendered;
  toggle.click(); // the image alone (the page redraws asynchronously)
  await drawn('image');
  const withoutHeatmap = pixels();
  toggle.click();
  await drawn('heatmap');
  let difference = 0;
  let red = 0;
  for (let i = 0; i < withHeatmap.length; i += 4) {
    for (let c = 0; c < 3; c++) difference += Math.abs(withHeatmap[i + c] - withoutHeatmap[i + c]);
    if (withHeatmap[i] > withHeatmap[i + 1] + 60 && withHeatmap[i] > withHeatmap[i + 2] + 60) red++;
  }
  const n = withHeatmap.length / 4;
  const text = (id) => document.getElementById(id).textContent;
  return {
    state: document.body.dataset.state,
    error: text('error'),
    verdict: text('verdict'),
    label: document.getElementById('verdict').dataset.label,
    score: text('score'),
    normalized: text('normalized'),
    threshold: text('threshold'),
    header: text('model'),
    rows: document.getElementById('rows').children.length,
    rendered,
    size: [canvas.width, canvas.height],
    visible: getComputedStyle(canvas).display !== 'none',
    heatmapChange: difference / (n * 3), // mean change per channel the heatmap makes, 0–255
    red: red / n, // share of clearly red pixels
  };
})()`;

interface PageState {
  state: string;
  error: string;
  verdict: string;
  label: string;
  score: string;
  normalized: string;
  threshold: string;
  header: string;
  rows: number;
  rendered: string;
  size: [number, number];
  visible: boolean;
  heatmapChange: number;
  red: number;
}

interface PageScore {
  url: string;
  predScore: number;
  normalizedScore: number | null;
  predLabel: 0 | 1 | null;
  map: [number, number] | null;
  ms: number;
}

interface PageRun {
  runtime: string;
  runtimeDetail: string;
  preProcessing: unknown;
  loadMs: number;
  results: PageScore[];
}

interface CliPrediction {
  path: string;
  predScore: number;
  normalizedScore: number | null;
  predLabel: 0 | 1 | null;
}

const relativeDifference = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);

/** Every file under `dir`, recursively (paths relative to it). */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(dir, join(prefix, entry.name)) : [join(prefix, entry.name)],
  );
}

/** `dfm export` into a new folder, then a copy of it elsewhere (no node_modules on the way) for serving. */
async function exportAndCopy(model: string, work: string, name: string): Promise<{ exported: string; served: string }> {
  const exported = join(work, `${name}-export`);
  const result = await run(['export', '--model', model, '--out', exported, '--json']);
  expect(result.code, result.err).toBe(0);
  const served = mkdtempSync(join(tmpdir(), `dfm-served-${name}-`));
  cpSync(exported, served, { recursive: true });
  return { exported, served };
}

/**
 * Absolute paths of this machine in the folder's files: the test's temp folders, the repository and
 * the assets. `allowed` lists (file, text) pairs known to be there; every other occurrence is returned.
 */
function absolutePathsIn(folder: string, needles: string[], allowed: { file: string; text: string }[] = []): string[] {
  const found: string[] = [];
  for (const file of filesUnder(folder)) {
    let text = readFileSync(join(folder, file)).toString('latin1');
    for (const allow of allowed.filter((a) => a.file === file)) text = text.replace(allow.text, '');
    for (const needle of needles) if (text.includes(needle)) found.push(`${file} holds ${needle}`);
  }
  return found;
}

describe('dfm export: the folder in headless Chromium', () => {
  let browser: Browser | undefined;
  const servers: StaticServer[] = [];
  const logs: string[] = [];
  const work = mkdtempSync(join(tmpdir(), 'dfm-export-e2e-'));
  const temporary: string[] = [work];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is not installed (${CHROMIUM} is missing): run apt-get install chromium (Debian, as root), or set DFM_CHROMIUM to a Chromium binary.`);
    }
    if (!existsSync(join(PACKAGE_DIR, 'dist/browser/dfm.js'))) {
      throw new Error('dist/browser/dfm.js is missing: run pnpm --filter @dfm/cli test:browser (it builds first), or pnpm build.');
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false, args: CHROMIUM_FLAGS });
  });

  afterAll(async () => {
    await browser?.close();
    for (const server of servers) await server.close();
    for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
    if (logs.length > 0) process.stdout.write(`[export-browser] page console:\n${logs.map((l) => `  ${l}`).join('\n')}\n`);
  });

  /** Serves `folder` at / (plus the test page) from 127.0.0.1. */
  async function serve(folder: string): Promise<StaticServer> {
    const server = await serveStatic({ routes: { '/': folder }, pages: { '/test.html': TEST_PAGE } });
    servers.push(server);
    return server;
  }

  /** Opens `path` and waits until the page says it is ready (`ready`: a JavaScript expression run in the page). */
  async function openPage(server: StaticServer, path: string, ready: string): Promise<Page> {
    const context = await (browser as Browser).newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    page.on('console', (message) => logs.push(`${path} console.${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => logs.push(`${path} page error: ${error.message}`));
    page.on('response', (response) => {
      if (response.status() >= 400) logs.push(`${path} HTTP ${response.status()} ${response.url()}`);
    });
    await page.goto(`${server.origin}${path}`);
    await page.waitForFunction(ready, undefined, { timeout: 120_000 });
    return page;
  }

  const openTestPage = (server: StaticServer) => openPage(server, '/test.html', 'window.dfmReady === true');

  const scoreInPage = (page: Page, runtime: string | undefined, images: string[], source?: string) =>
    page.evaluate((request) => (globalThis as unknown as { dfmScore(r: unknown): Promise<PageRun> }).dfmScore(request), { runtime, images, source });

  describe.runIf(assets.found)('bottle: resnet18/layer3 at 256 px on the development assets', () => {
    const assetsDir = assets.dir as string;
    const testDir = join(assetsDir, BOTTLE, 'test');
    let modelPath: string;
    let cli: Map<string, CliPrediction>;
    let threshold: number;
    let exported: string;
    let served: string;
    let server: StaticServer;
    let images: string[];

    beforeAll(async () => {
      modelPath = join(work, 'bottle.dfm');
      const t0 = performance.now();
      const trained = await run([
        'train', '--data', join(assetsDir, 'data'), '--category', 'mvtec-bottle', '--backbone', 'resnet18', '--layer', 'layer3',
        '--weights', join(assetsDir, WEIGHTS), '--image-size', '256', '--runtime', 'onnxruntime',
        '--results-dir', join(work, 'results'), '--out', modelPath, '--json',
      ]);
      expect(trained.code, trained.err).toBe(0);
      threshold = JSON.parse(trained.out).thresholds.stats.imageThreshold;
      const t1 = performance.now();
      const predicted = await run(['predict', '--model', modelPath, '--input', testDir, '--json']);
      expect(predicted.code, predicted.err).toBe(0);
      const predictions = JSON.parse(predicted.out).predictions as CliPrediction[];
      cli = new Map(predictions.map((p) => [relative(testDir, p.path).split('\\').join('/'), p]));
      const t2 = performance.now();
      ({ exported, served } = await exportAndCopy(modelPath, work, 'bottle'));
      temporary.push(served);
      // The ONNX export of the same model, served beside it at /onnx/ (the page loads it with the folder's dfm.js).
      const onnx = await run(['export', '--model', modelPath, '--export-type', 'onnx', '--out', join(work, 'bottle-onnx'), '--json']);
      expect(onnx.code, onnx.err).toBe(0);
      cpSync(join(work, 'bottle-onnx'), join(served, 'onnx'), { recursive: true });
      // The test images beside the folder's files, served by the same server.
      cpSync(testDir, join(served, 'test-images'), { recursive: true });
      images = [...cli.keys()].sort();
      server = await serve(served);
      process.stdout.write(
        `[export-browser] bottle: dfm train ${((t1 - t0) / 1000).toFixed(1)} s (threshold ${threshold}), dfm predict ${cli.size} images ${((t2 - t1) / 1000).toFixed(1)} s, export + copy ${((performance.now() - t2) / 1000).toFixed(1)} s\n`,
      );
    });

    it('the folder: model (same tensors and metadata, weightsSource dropped), weights (sha256 = the model\'s record), dfm.js, .wasm, index.html, README.md, manifest.json with relative paths', () => {
      const manifest = JSON.parse(readFileSync(join(exported, 'manifest.json'), 'utf8'));
      expect(readFileSync(join(exported, 'model.dfm')).length).toBeGreaterThan(0);
      expect(manifest.files.weights.sha256).toBe(manifest.model.weightsSha256);
      const listed = [manifest.files.model, manifest.files.weights, manifest.files.script, ...manifest.files.wasm, manifest.files.page, manifest.files.readme];
      for (const file of listed) {
        expect(file.path).toMatch(/^[A-Za-z0-9][\w.-]*$/);
        expect(statSync(join(exported, file.path)).size, file.path).toBe(file.bytes);
      }
      expect(filesUnder(exported).sort()).toEqual([...listed.map((f) => f.path), 'manifest.json'].sort());
      const rows = filesUnder(exported)
        .sort()
        .map((file) => `    ${file.padEnd(40)} ${statSync(join(exported, file)).size.toLocaleString('en-US').padStart(12)} bytes`);
      process.stdout.write(`[export-browser] bottle export folder:\n${rows.join('\n')}\n`);
    });

    it('no absolute path of this machine in any file of the folder (model.dfm included)', () => {
      const metadata = JSON.parse(readFileSync(join(exported, 'manifest.json'), 'utf8'));
      expect(metadata.files.model.path).toBe('model.dfm');
      const found = absolutePathsIn(exported, [work, REPO_ROOT, assetsDir], []);
      expect(found).toEqual([]);
      // The ONNX export too (model.onnx, metadata.json, README.md).
      expect(absolutePathsIn(join(work, 'bottle-onnx'), [work, REPO_ROOT, assetsDir], [])).toEqual([]);
      process.stdout.write(`[export-browser] absolute paths: none of ${work}, ${REPO_ROOT}, ${assetsDir} in any file\n`);
    });

    /** The page's scores vs dfm predict's: every score within 1e-4 relative, labels equal away from the threshold. */
    function expectLikeCli(scored: PageRun, what: string, seconds: number): void {
      expect(scored.results).toHaveLength(images.length);
      expect(images.length).toBeGreaterThanOrEqual(20);
      let worst = 0;
      let worstImage = '';
      const mismatches: string[] = [];
      const nearThreshold: string[] = [];
      scored.results.forEach((result, i) => {
        const image = images[i] as string;
        const expected = cli.get(image) as CliPrediction;
        const difference = relativeDifference(result.predScore, expected.predScore);
        if (difference > worst) [worst, worstImage] = [difference, image];
        expect(result.map).toEqual([256, 256]);
        const near = relativeDifference(expected.predScore, threshold) <= SCORE_TOLERANCE;
        if (near) nearThreshold.push(`${image} (dfm predict ${expected.predScore}, label ${expected.predLabel}; browser ${result.predScore}, label ${result.predLabel})`);
        else if (result.predLabel !== expected.predLabel) mismatches.push(`${image}: browser ${result.predLabel}, dfm predict ${expected.predLabel}`);
      });
      const times = scored.results.map((r) => r.ms).sort((a, b) => a - b);
      process.stdout.write(
        `[export-browser] ${what} (${scored.runtimeDetail}): ${images.length} images decoded by Chromium, max relative score difference vs dfm predict ${worst.toExponential(2)} (${worstImage}); labels: ${images.length - nearThreshold.length - mismatches.length}/${images.length - nearThreshold.length} equal away from the threshold${nearThreshold.length > 0 ? `; within 1e-4 of the threshold (either label allowed): ${nearThreshold.join(', ')}` : ''} | loadDetector ${scored.loadMs.toFixed(0)} ms, predict median ${times[Math.floor(times.length / 2)]?.toFixed(0)} ms (decode + resize + network), ${seconds.toFixed(1)} s in all\n`,
      );
      expect(mismatches).toEqual([]);
      expect(worst).toBeLessThanOrEqual(SCORE_TOLERANCE);
    }

    it('the ONNX export (model.onnx + metadata.json, dfm export --export-type onnx) in the page: one onnxruntime-web session gives dfm predict’s scores (1e-4 relative), labels equal', async () => {
      const page = await openTestPage(server);
      const t0 = performance.now();
      const scored = await scoreInPage(page, undefined, images.map((image) => `/test-images/${image}`), './onnx/');
      expect(scored.runtime).toBe('onnxruntime');
      expect(scored.runtimeDetail).toMatch(/^the exported graph \(model\.onnx, opset 17\) in one session: onnxruntime-web/);
      expectLikeCli(scored, 'ONNX export on onnxruntime-web', (performance.now() - t0) / 1000);
      await page.context().close();
    });

    for (const runtime of ['tfjs', 'onnxruntime'] as const) {
      it(`runtime '${runtime}': the ${'browser-decoded'} bottle test images score as dfm predict (1e-4 relative), labels equal`, async () => {
        const page = await openTestPage(server);
        const exports = await page.evaluate(() => (globalThis as unknown as { dfmExports: string[] }).dfmExports);
        expect(exports).toEqual(expect.arrayContaining(['loadDetector', 'renderHeatmap', 'Detector']));
        const t0 = performance.now();
        const scored = await scoreInPage(page, runtime, images.map((image) => `/test-images/${image}`));
        expect(scored.runtime).toBe(runtime);
        expectLikeCli(scored, runtime, (performance.now() - t0) / 1000);
        await page.context().close();
      });
    }

    it('index.html: a defective bottle (broken_large/000.png) given to the file input shows its score, label and heatmap (screenshot)', async () => {
      const page = await openPage(server, '/index.html', "['ready', 'error'].includes(document.body.dataset.state)");
      expect(await page.textContent('#error')).toBe('');
      await page.setInputFiles('#file', join(served, 'test-images', 'broken_large', '000.png'));
      await page.waitForFunction("['done', 'error'].includes(document.body.dataset.state)", undefined, { timeout: 120_000 });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      const shown = (await page.evaluate(PAGE_STATE)) as PageState;
      const expected = cli.get('broken_large/000.png') as CliPrediction;
      expect(shown.state, shown.error ?? '').toBe('done');
      expect(shown.label).toBe(String(expected.predLabel));
      expect(shown.verdict).toBe(expected.predLabel === 1 ? 'ANOMALOUS' : 'NORMAL');
      expect(relativeDifference(Number(shown.score), expected.predScore)).toBeLessThanOrEqual(1e-4);
      expect(Number(shown.threshold)).toBeCloseTo(threshold, 4);
      expect(shown.header).toMatch(/resnet18 \/ layer3/);
      expect(shown.rows).toBe(1);
      expect(shown.rendered).toBe('heatmap');
      expect(shown.visible).toBe(true);
      expect(shown.heatmapChange).toBeGreaterThan(10);
      expect(shown.red).toBeGreaterThan(0.01);
      process.stdout.write(
        `[export-browser] index.html after broken_large/000.png: ${shown.verdict}, score ${shown.score} (dfm predict ${expected.predScore}), normalised ${shown.normalized}, threshold ${shown.threshold}; canvas ${shown.size.join('×')}, the heatmap changes its pixels by ${shown.heatmapChange.toFixed(0)}/255 on average, ${(shown.red * 100).toFixed(1)}% of them red\n` +
          `[export-browser] screenshot: ${SCREENSHOT}\n`,
      );
      await page.context().close();
    });
  });

  describe('a custom PreProcessor({ mean, std }) model (random weights, 64 px): Node and the browser score alike', () => {
    const mean: [number, number, number] = [0.3, 0.4, 0.5];
    const std: [number, number, number] = [0.2, 0.3, 0.1];
    let served: string;
    let exported: string;
    let server: StaticServer;
    let images: string[];
    let node: { predScore: number; predLabel: 0 | 1 | null }[];

    beforeAll(async () => {
      const data = await makeSyntheticDataset(join(work, 'blobs'), { nTrain: 16, nTestNormal: 6, nTestAnomalous: 6, size: 64, seed: 4 });
      const model = new Dfm({ backbone: 'resnet18', layer: 'layer2', preTrained: false, seed: 3, preProcessor: new PreProcessor({ imageSize: [64, 64], mean, std }) });
      const dataset = new Folder({ normalDir: data.normalDir, normalTestDir: data.normalTestDir, abnormalDir: data.abnormalDir, name: 'blobs', seed: 5 });
      await new Engine({ defaultRootDir: join(work, 'custom-results'), checkpoint: false, batchSize: 8 }).fit(model, dataset);
      const modelPath = join(work, 'custom.dfm');
      await model.save(modelPath);
      model.dispose();
      ({ exported, served } = await exportAndCopy(modelPath, work, 'custom'));
      temporary.push(served);
      const sources = [data.normalTestDir, data.abnormalDir].flatMap((dir) => readdirSync(dir).sort().map((file) => join(dir, file)));
      images = sources.map((source) => `${basename(source.replace(/[/\\][^/\\]+$/, ''))}-${basename(source)}`);
      mkdirSync(join(served, 'test-images'));
      for (const [i, source] of sources.entries()) cpSync(source, join(served, 'test-images', images[i] as string));
      const detector = await loadDetector(exported);
      expect(detector.info.preProcessing.normalization).toEqual({ mean, std });
      node = [];
      for (const source of sources) node.push(await detector.predict(source));
      await detector.close();
      server = await serve(served);
    });

    it('no absolute path of this machine in any file', () => {
      expect(absolutePathsIn(exported, [work, REPO_ROOT, ...(assets.dir === undefined ? [] : [assets.dir])])).toEqual([]);
      const manifest = JSON.parse(readFileSync(join(exported, 'manifest.json'), 'utf8'));
      expect(manifest.files.weights).toBeNull();
      expect(manifest.model.preProcessing.normalization).toEqual({ mean, std });
    });

    for (const runtime of ['tfjs', 'onnxruntime'] as const) {
      it(`runtime '${runtime}': the browser's scores equal Node's loadDetector(folder) (1e-5 relative), labels equal`, async () => {
        const page = await openTestPage(server);
        const scored = await scoreInPage(page, runtime, images.map((image) => `/test-images/${image}`));
        expect(scored.runtime).toBe(runtime);
        expect(scored.preProcessing).toEqual({ imageSize: [64, 64], resizeKernel: 'bilinear-antialiased', normalization: { mean, std } });
        let worst = 0;
        scored.results.forEach((result, i) => {
          worst = Math.max(worst, relativeDifference(result.predScore, (node[i] as { predScore: number }).predScore));
          expect(result.predLabel, images[i]).toBe((node[i] as { predLabel: 0 | 1 | null }).predLabel);
        });
        process.stdout.write(
          `[export-browser] custom mean/std, ${runtime} (${scored.runtimeDetail}): ${images.length} images, max relative score difference vs Node ${worst.toExponential(2)}, labels equal\n`,
        );
        expect(worst).toBeLessThanOrEqual(1e-5);
        await page.context().close();
      });
    }
  });
});
