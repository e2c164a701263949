// The page's app for the real-browser test (test/browser/chromium.e2e.ts): what a user's browser
// code does with @dfm/backbone, bundled with esbuild from the built package (dist/). It exposes one
// function, window.dfmRun, that the test calls through Playwright.
import { createBackbone, normalizeImageNet } from '@dfm/backbone';
import { randomUniform } from '@dfm/backbone/internal';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web';

// A bundler copies neither onnxruntime-web's .wasm files nor tells it where they are: serve
// node_modules/onnxruntime-web/dist/ somewhere and point wasmPaths at it.
ort.env.wasm.wasmPaths = '/ort/';

/** Float32Array → base64 of its bytes (exact, and cheap to pass back to Node). */
function toBase64(data) {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/**
 * Builds a backbone, runs the fixture's input through it twice, returns the features and timings.
 *
 * @param request.weights `{ bytes: url }` (fetched here, passed as a Uint8Array), `{ url }` (passed
 *   as a string: the package fetches it) or `{ random: { seed, batchNorm } }`
 * @param request.onnxruntime `'module'` (onnxruntimeModule: the bundled onnxruntime-web) or
 *   `'by-name'` (the package imports onnxruntime-web itself: needs the page's import map)
 * @param request.threads onnxruntime-web threads (more than 1 needs a cross-origin isolated page)
 */
async function run(request) {
  const { architecture, layers, runtime, weights, onnxruntime, input, threads } = request;
  const options = { layers, runtime, threads };
  if (weights.bytes !== undefined) options.weights = new Uint8Array(await (await fetch(weights.bytes)).arrayBuffer());
  else if (weights.url !== undefined) options.weights = weights.url;
  else {
    options.weights = null;
    options.seed = weights.random.seed;
    options.randomBatchNorm = weights.random.batchNorm;
  }
  if (runtime === 'onnxruntime' && onnxruntime === 'module') options.onnxruntimeModule = ort;

  const started = performance.now();
  const backbone = await createBackbone(architecture, options);
  const created = performance.now();
  const size = input.shape.reduce((a, d) => a * d, 1);
  const batch = tf.tidy(() => normalizeImageNet(tf.tensor4d(randomUniform(size, input.seed, 'input'), input.shape)));
  const tensorsBefore = tf.memory().numTensors;
  const first = await backbone.extractAsync(batch);
  const firstDone = performance.now();
  const features = {};
  for (const layer of layers) features[layer] = { shape: first[layer].shape, base64: toBase64(await first[layer].data()) };
  tf.dispose(Object.values(first));
  const secondStart = performance.now();
  tf.dispose(Object.values(await backbone.extractAsync(batch)));
  const secondDone = performance.now();
  const leaked = tf.memory().numTensors - tensorsBefore;
  batch.dispose();
  backbone.dispose();
  return {
    runtime: backbone.runtime,
    runtimeDetail: backbone.runtimeDetail,
    weightsId: backbone.weightsId,
    tfjsBackend: tf.getBackend(),
    crossOriginIsolated: self.crossOriginIsolated === true,
    createMs: created - started,
    firstMs: firstDone - created,
    secondMs: secondDone - secondStart,
    leaked,
    features,
  };
}

/** The error message of a request that must fail (e.g. the onnxruntime runtime without a way to load it). */
async function runError(request) {
  try {
    await run(request);
    return undefined;
  } catch (error) {
    return String(error?.message ?? error);
  }
}

window.dfmRun = run;
window.dfmRunError = runError;
window.dfmReady = true;
