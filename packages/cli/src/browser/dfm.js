// The entry of dfm.js, the one ES module `dfm export` puts in every export folder: @dfm/core's
// Detector with @tensorflow/tfjs-core, tfjs-backend-wasm and onnxruntime-web (its WebAssembly
// build) bundled in by esbuild (scripts/build-browser.mjs), so a page needs no bundler, no import
// map and no npm install. The runtimes' .wasm files sit beside dfm.js in the folder: both runtimes
// look for them at dfm.js's own URL, so the folder works from any URL it is served at.
import { setBackend } from '@dfm/backbone';
import { loadDetector as loadDetectorFrom } from '@dfm/core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web/wasm';

/** The URL of the folder dfm.js was loaded from (its export folder), ending in '/'. */
export const exportFolderUrl = new URL('./', import.meta.url).href;

// Both runtimes fetch their .wasm from here; this must happen before either initialises.
ort.env.wasm.wasmPaths = exportFolderUrl;
setWasmPaths(exportFolderUrl);

let backendReady;

/**
 * The model's own arithmetic (PCA, scores, maps) runs on tfjs-core whatever the runtime: start the
 * backend @dfm/backbone's setBackend() picks in a browser (wasm with SIMD, else cpu), once, unless
 * the page already set one.
 */
function tfjsBackend() {
  backendReady ??= tf.engine().backendName ? Promise.resolve() : setBackend('auto');
  return backendReady;
}

/**
 * `loadDetector` of @dfm/core with onnxruntime-web already passed: `runtime: 'onnxruntime'` runs
 * the network on onnxruntime-web's WebAssembly EP, `'tfjs'` on tfjs-core's wasm backend, `'auto'`
 * (the default) picks onnxruntime-web. Without `source`, the export folder dfm.js came from.
 *
 * @example
 * import { loadDetector, renderHeatmap } from './dfm.js';
 * const detector = await loadDetector();                       // ./manifest.json, ./model.dfm, weights
 * const result = await detector.predict(fileInput.files[0]);   // a Blob, ImageBitmap, <img>, canvas, ImageData…
 * console.log(result.predScore, result.normalizedScore, result.predLabel);
 *
 * @param {string | URL | Uint8Array} [source] an export folder's URL (ending in '/'), a .dfm URL, or .dfm bytes
 * @param {object} [options] loadDetector's options (runtime, weights, fetch, …)
 */
export async function loadDetector(source = exportFolderUrl, options = {}) {
  await tfjsBackend();
  return loadDetectorFrom(source, { onnxruntimeModule: ort, onnxruntimePackage: 'onnxruntime-web', ...options });
}

export { Detector, DfmError, HEATMAP_ALPHA, isDfmError, renderHeatmap, VERSION } from '@dfm/core';
