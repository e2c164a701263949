/**
 * The service's web page in a real browser: Debian's Chromium, headless, driven by playwright-core.
 * Opt-in (`pnpm --filter @dfm/serve test:browser`, not part of `pnpm test`): it needs
 * `apt-get install chromium` and the page built (the script builds first: dist/ui/).
 *
 * The service is `createServer` from the sources, on 127.0.0.1 (any free port); the page is the one
 * it serves at `/`, and the test drives it as a person would (file input, keys, buttons).
 *
 * 1. Bottle (development assets; skipped with the reason when absent): `dfm train` (resnet18/layer3,
 *    256 px). A defective bottle (broken_large/000.png) given to the file input shows ANOMALOUS, the
 *    service's own score for those bytes, and a heatmap that changes the image's pixels; a good one
 *    (good/000.png) shows NORMAL; the strip holds both, and clicking a thumbnail shows it again.
 *    A screenshot is saved for people to look at (its path is printed).
 * 2. A small model (random resnet18 stages 1–2, 64 px synthetic blobs; always runs): a file that is
 *    not an image shows the service's error message; with a bearer token the page asks for it
 *    (a wrong one is refused), then loads the model and scores; a frame of Chromium's fake camera
 *    is captured and scored.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findAssetsDir } from '@dfm/backbone/internal';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fastFlags, makeFixture, run } from '../../../cli/test/fixtures';
import { createServer, type DfmServer } from '../../src/index';

const CHROMIUM = process.env.DFM_CHROMIUM ?? '/usr/bin/chromium';
// No background connections, no GPU; a fake camera that needs no permission prompt. Playwright adds
// --headless, --no-sandbox (chromiumSandbox false) and a fresh --user-data-dir of its own.
const CHROMIUM_FLAGS = [
  '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
];
const WEIGHTS = 'weights/resnet18-imagenet-layer1-3.safetensors';
const BOTTLE = 'data/mvtec-bottle';
const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));
const SCREENSHOT = join(tmpdir(), 'dfm-serve-page.png');
const TOKEN = 'page-test-token-5f2c9a';

const assets = findAssetsDir({ require: [WEIGHTS, BOTTLE], from: PACKAGE_DIR });
if (!assets.found) process.stdout.write(`[serve-page] SKIPPED the bottle cases (verdicts, scores, heatmap, screenshot): ${assets.reason}\n`);

/** What the page shows, read in the page (a function's source: this package type-checks without the DOM library). */
const PAGE_STATE = `(() => {
  const text = (id) => document.getElementById(id).textContent;
  const visible = (id) => { const e = document.getElementById(id); return !e.hidden && getComputedStyle(e).display !== 'none'; };
  const thumbs = [...document.querySelectorAll('#strip > li button')];
  return {
    state: document.body.dataset.state,
    error: visible('error') ? text('error-title') + ' ' + text('error-text') : '',
    errorText: text('error-text'),
    errorCode: document.getElementById('error').dataset.code,
    verdict: text('verdict'),
    label: document.getElementById('verdict').dataset.label,
    score: text('score'),
    scoreValue: document.getElementById('score').dataset.value,
    normalized: text('normalized'),
    threshold: text('threshold'),
    header: document.getElementById('model').innerText,
    modelId: document.getElementById('model').dataset.modelId,
    strip: thumbs.map((b) => ({ label: b.dataset.label, current: b.getAttribute('aria-current') === 'true', title: b.title })),
    heatmapShown: visible('heatmap'),
    plainShown: visible('plain'),
    tokenAsked: visible('token-form'),
    tokenTitle: text('token-title'),
  };
})()`;

/** The heatmap <img> against the plain image, both drawn at the heatmap's size on a canvas in the page. */
const HEATMAP_PIXELS = `(() => {
  const heat = document.getElementById('heatmap');
  const plain = document.getElementById('plain');
  const [w, h] = [heat.naturalWidth, heat.naturalHeight];
  const read = (img) => {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0, w, h);
    return context.getImageData(0, 0, w, h).data;
  };
  const a = read(heat);
  const b = read(plain);
  let change = 0;
  let red = 0;
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) change += Math.abs(a[i + c] - b[i + c]);
    if (a[i] > a[i + 1] + 60 && a[i] > a[i + 2] + 60) red++;
  }
  const n = a.length / 4;
  return { heatmap: [w, h], plain: [plain.naturalWidth, plain.naturalHeight], change: n === 0 ? 0 : change / (n * 3), red: n === 0 ? 0 : red / n };
})()`;

interface PageState {
  state: string;
  error: string;
  errorText: string;
  errorCode: string;
  verdict: string;
  label: string;
  score: string;
  scoreValue: string;
  normalized: string;
  threshold: string;
  header: string;
  modelId: string | undefined;
  strip: { label: string; current: boolean; title: string }[];
  heatmapShown: boolean;
  plainShown: boolean;
  tokenAsked: boolean;
  tokenTitle: string;
}

interface HeatmapPixels {
  heatmap: [number, number];
  plain: [number, number];
  /** Mean change per channel the heatmap makes, 0–255. */
  change: number;
  /** Share of clearly red pixels in the heatmap. */
  red: number;
}

interface Prediction {
  predScore: number;
  normalizedScore: number | null;
  predLabel: 0 | 1 | null;
  heatmap?: { width: number; height: number };
}

/** The page's score text as app.ts formats it (6 significant digits). */
function formatScore(value: number): string {
  const size = Math.abs(value);
  return size !== 0 && (size < 1e-3 || size >= 1e6) ? value.toExponential(5) : value.toPrecision(6);
}

const pageState = async (page: Page) => (await page.evaluate(PAGE_STATE)) as PageState;

/** Waits until the page's state is one of `states` (`body[data-state]`). */
const untilState = (page: Page, states: string[]) =>
  page.waitForFunction(`${JSON.stringify(states)}.includes(document.body.dataset.state)`, undefined, { timeout: 120_000 });

/** Waits until the strip holds `n` results and the page shows a result or an error. */
const untilScored = (page: Page, n: number) =>
  page.waitForFunction(
    `document.querySelectorAll('#strip > li').length === ${n} && ['result', 'error'].includes(document.body.dataset.state) || document.body.dataset.state === 'error'`,
    undefined,
    { timeout: 120_000 },
  );

describe('@dfm/serve: the web page in headless Chromium', () => {
  let browser: Browser | undefined;
  const servers: DfmServer[] = [];
  const logs: string[] = [];
  const work = mkdtempSync(join(tmpdir(), 'dfm-serve-page-'));

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is not installed (${CHROMIUM} is missing): run apt-get install chromium (Debian, as root), or set DFM_CHROMIUM to a Chromium binary.`);
    }
    if (!existsSync(join(PACKAGE_DIR, 'dist/ui/app.js'))) {
      throw new Error('dist/ui/app.js is missing: run pnpm --filter @dfm/serve test:browser (it builds first), or node scripts/build-ui.mjs in packages/serve.');
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, chromiumSandbox: false, args: CHROMIUM_FLAGS });
  });

  afterAll(async () => {
    await browser?.close();
    for (const server of servers) await server.close();
    rmSync(work, { recursive: true, force: true });
    if (logs.length > 0) process.stdout.write(`[serve-page] page console:\n${logs.map((l) => `  ${l}`).join('\n')}\n`);
  });

  /** Starts the service on `model` (any free port of 127.0.0.1) → its base URL. */
  async function serve(model: string, token?: string): Promise<string> {
    const server = await createServer({ model, token, port: 0, logger: false });
    servers.push(server);
    return server.dfm.listen();
  }

  /** Opens the service's page in a fresh context (its own sessionStorage), logging the console and failed requests. */
  async function openPage(base: string, what: string): Promise<Page> {
    const context = await (browser as Browser).newContext({ viewport: { width: 1366, height: 900 }, permissions: ['camera'] });
    const page = await context.newPage();
    page.on('console', (message) => logs.push(`${what} console.${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => logs.push(`${what} page error: ${error.message}`));
    page.on('response', (response) => {
      if (response.status() >= 400) logs.push(`${what} HTTP ${response.status()} ${response.request().method()} ${response.url()}`);
    });
    await page.goto(`${base}/`);
    return page;
  }

  /** POST /v1/predict from the test: the service's answer for these bytes, the reference for the page. */
  async function predict(base: string, bytes: Buffer, type: string, token?: string): Promise<{ status: number; body: Prediction & { error?: { code: string; message: string } } }> {
    const headers: Record<string, string> = { 'content-type': type };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const response = await fetch(`${base}/v1/predict?heatmap=png`, { method: 'POST', body: bytes, headers });
    return { status: response.status, body: (await response.json()) as Prediction & { error?: { code: string; message: string } } };
  }

  describe.runIf(assets.found)('bottle: resnet18/layer3 at 256 px on the development assets', () => {
    const assetsDir = assets.dir as string;
    const testDir = join(assetsDir, BOTTLE, 'test');
    const defective = join(testDir, 'broken_large', '000.png');
    const good = join(testDir, 'good', '000.png');
    let base: string;
    let threshold: number;
    let page: Page;

    beforeAll(async () => {
      const model = join(work, 'bottle.dfm');
      const t0 = performance.now();
      const trained = await run([
        'train', '--data', join(assetsDir, 'data'), '--category', 'mvtec-bottle', '--backbone', 'resnet18', '--layer', 'layer3',
        '--weights', join(assetsDir, WEIGHTS), '--image-size', '256', '--runtime', 'onnxruntime',
        '--results-dir', join(work, 'results'), '--out', model, '--json',
      ]);
      expect(trained.code, trained.err).toBe(0);
      threshold = JSON.parse(trained.out).thresholds.stats.imageThreshold;
      const t1 = performance.now();
      base = await serve(model);
      process.stdout.write(`[serve-page] bottle: dfm train ${((t1 - t0) / 1000).toFixed(1)} s (image threshold ${threshold}), service up at ${base} in ${((performance.now() - t1) / 1000).toFixed(1)} s\n`);
      page = await openPage(base, 'bottle');
    });

    afterAll(async () => {
      await page?.context().close();
    });

    it('the header shows the model: backbone / layer, FRE, 256×256, runtime, the image threshold and the normalised 0.5 mark', async () => {
      await untilState(page, ['ready', 'error']);
      const shown = await pageState(page);
      expect(shown.state, shown.error).toBe('ready');
      const model = (await (await fetch(`${base}/v1/model`)).json()) as { id: string; runtime: string };
      expect(shown.modelId).toBe(model.id);
      expect(shown.header).toContain('resnet18 / layer3');
      expect(shown.header).toContain('FRE');
      expect(shown.header).toContain('256×256 px');
      expect(shown.header).toContain(model.runtime);
      expect(shown.header).toContain(`${formatScore(threshold)} = 0.5 normalised`);
      expect(shown.strip).toHaveLength(0);
      process.stdout.write(`[serve-page] header: ${shown.header.replace(/\s+/g, ' ')}\n`);
    });

    it('a defective bottle (broken_large/000.png) through the file input: ANOMALOUS, the service\'s score, a heatmap over the image, one thumbnail', async () => {
      const reference = await predict(base, readFileSync(defective), 'image/png');
      expect(reference.status).toBe(200);
      expect(reference.body.predLabel).toBe(1);
      await page.setInputFiles('#file', defective);
      await untilScored(page, 1);
      const shown = await pageState(page);
      expect(shown.state, shown.error).toBe('result');
      expect(shown.verdict).toBe('ANOMALOUS');
      expect(shown.label).toBe('1');
      expect(Number(shown.scoreValue)).toBe(reference.body.predScore);
      expect(shown.score).toBe(formatScore(reference.body.predScore));
      expect(shown.normalized).toBe((reference.body.normalizedScore as number).toFixed(3));
      expect(shown.strip).toEqual([expect.objectContaining({ label: '1', current: true })]);
      expect(shown.heatmapShown).toBe(true);
      expect(shown.plainShown).toBe(false);

      const pixels = (await page.evaluate(HEATMAP_PIXELS)) as HeatmapPixels;
      expect(pixels.heatmap).toEqual([256, 256]);
      expect(pixels.plain).toEqual([512, 512]);
      expect(pixels.change).toBeGreaterThan(10);
      expect(pixels.red).toBeGreaterThan(0.005);

      // H toggles the plain image and back.
      await page.keyboard.press('h');
      const plain = await pageState(page);
      expect([plain.heatmapShown, plain.plainShown]).toEqual([false, true]);
      await page.keyboard.press('h');
      expect((await pageState(page)).heatmapShown).toBe(true);
      process.stdout.write(
        `[serve-page] broken_large/000.png: page ${shown.verdict} (data-label ${shown.label}), score ${shown.score} = service ${reference.body.predScore}, normalised ${shown.normalized}; heatmap ${pixels.heatmap.join('×')} over the ${pixels.plain.join('×')} image changes its pixels by ${pixels.change.toFixed(1)}/255 on average, ${(pixels.red * 100).toFixed(1)}% of them red\n`,
      );
    });

    it('a good bottle (good/000.png): NORMAL, two thumbnails; clicking the first shows the defective one again (screenshot)', async () => {
      const reference = await predict(base, readFileSync(good), 'image/png');
      expect(reference.body.predLabel).toBe(0);
      await page.setInputFiles('#file', good);
      await untilScored(page, 2);
      const shown = await pageState(page);
      expect(shown.state, shown.error).toBe('result');
      expect(shown.verdict).toBe('NORMAL');
      expect(shown.label).toBe('0');
      expect(Number(shown.scoreValue)).toBe(reference.body.predScore);
      expect(shown.strip.map((t) => [t.label, t.current])).toEqual([['0', true], ['1', false]]);

      await page.click('#strip > li:nth-child(2) button');
      await page.waitForFunction("document.getElementById('verdict').dataset.label === '1'");
      const again = await pageState(page);
      expect(again.verdict).toBe('ANOMALOUS');
      expect(again.strip.map((t) => t.current)).toEqual([false, true]);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      process.stdout.write(`[serve-page] good/000.png: page ${shown.verdict}, score ${shown.score} = service ${reference.body.predScore}; strip ${shown.strip.length} entries\n[serve-page] screenshot: ${SCREENSHOT}\n`);
    });
  });

  describe('a small model (random resnet18 stages 1–2, 64 px synthetic blobs): errors, the token, the camera', () => {
    let model: string;
    let images: { good: string; blob: string };

    beforeAll(async () => {
      const fixture = await makeFixture(join(work, 'fixture'));
      model = join(work, 'small.dfm');
      const trained = await run(['train', ...fastFlags(fixture, join(work, 'small-results')), '--out', model, '--json']);
      expect(trained.code, trained.err).toBe(0);
      images = { good: join(fixture.dataset.normalTestDir, '000.png'), blob: join(fixture.dataset.abnormalDir, '000.png') };
    });

    it('a file that is not an image: the page shows the service\'s message (E_IMAGE_DECODE), then scores the next image', async () => {
      const base = await serve(model);
      const page = await openPage(base, 'small');
      await untilState(page, ['ready', 'error']);
      const notAnImage = Buffer.from('these are inspection notes, not a PNG\n');
      const reference = await predict(base, notAnImage, 'image/png');
      expect(reference.status).toBe(400);
      await page.setInputFiles('#file', { name: 'notes.png', mimeType: 'image/png', buffer: notAnImage });
      await untilState(page, ['error']);
      const failed = await pageState(page);
      expect(failed.errorText).toBe(reference.body.error?.message);
      expect(failed.errorCode).toBe(reference.body.error?.code);
      expect(failed.error).toMatch(/^Could not score notes\.png: /);
      expect(failed.strip).toHaveLength(0);

      await page.setInputFiles('#file', images.blob);
      await untilScored(page, 1);
      const next = await pageState(page);
      expect(next.state, next.error).toBe('result');
      expect(next.error).toBe('');
      process.stdout.write(`[serve-page] not an image: the page says "${failed.error}" (${failed.errorCode}); the next image scores ${next.score} (${next.verdict})\n`);
      await page.context().close();
    });

    it('with a bearer token: the page asks for it, refuses a wrong one, then loads the model and scores with it', async () => {
      const base = await serve(model, TOKEN);
      expect((await fetch(`${base}/v1/model`)).status).toBe(401);
      const page = await openPage(base, 'token');
      await untilState(page, ['auth', 'error']);
      const asked = await pageState(page);
      expect(asked.state, asked.error).toBe('auth');
      expect(asked.tokenAsked).toBe(true);
      expect(asked.modelId).toBeUndefined();

      await page.fill('#token', 'not-the-token');
      await page.press('#token', 'Enter');
      await page.waitForFunction("document.getElementById('token-title').textContent.includes('did not accept')");
      expect((await pageState(page)).state).toBe('auth');

      await page.fill('#token', TOKEN);
      await page.click('#token-form button[type=submit]');
      await untilState(page, ['ready', 'error']);
      const ready = await pageState(page);
      expect(ready.state, ready.error).toBe('ready');
      expect(ready.tokenAsked).toBe(false);
      expect(ready.modelId).toMatch(/^small\.dfm@/);
      expect(await page.evaluate("sessionStorage.getItem('dfm-serve-token')")).toBe(TOKEN);

      const reference = await predict(base, readFileSync(images.blob), 'image/png', TOKEN);
      await page.setInputFiles('#file', images.blob);
      await untilScored(page, 1);
      const shown = await pageState(page);
      expect(shown.state, shown.error).toBe('result');
      expect(Number(shown.scoreValue)).toBe(reference.body.predScore);
      process.stdout.write(`[serve-page] token: 401 without it; the page asked, refused a wrong one, then scored blob/000.png ${shown.score} (service ${reference.body.predScore})\n`);
      await page.context().close();
    });

    it("the camera (Chromium's fake device): a captured frame is scored and joins the strip", async () => {
      const base = await serve(model);
      const page = await openPage(base, 'camera');
      await untilState(page, ['ready', 'error']);
      expect(await page.isVisible('#camera')).toBe(true);
      await page.click('#camera');
      await page.waitForFunction("document.getElementById('video').videoWidth > 0 && !document.getElementById('capture').closest('[hidden]')");
      await page.click('#capture');
      await untilScored(page, 1);
      const shown = await pageState(page);
      expect(shown.state, shown.error).toBe('result');
      expect(shown.strip).toHaveLength(1);
      expect(shown.strip[0]?.title).toMatch(/^camera \d\d:\d\d:\d\d\.png: /);
      expect(Number.isFinite(Number(shown.scoreValue))).toBe(true);
      process.stdout.write(`[serve-page] camera: a fake-camera frame scored ${shown.score} (${shown.verdict})\n`);
      await page.context().close();
    });
  });
});
