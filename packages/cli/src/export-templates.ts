/**
 * Files written next to an exported model by `dfm export`: a Node loader, a browser loader and a
 * page that uses it, a package.json naming the packages they need, and a README.
 */

/** What the templates need to know about the export. */
export interface ExportInfo {
  /** File name of the backbone weights in the folder, or null for seeded random weights. */
  weightsFile: string | null;
  backbone: string;
  layer: string;
  scoreType: string;
  imageSize: [number, number];
  version: string;
}

export function loaderNode(info: ExportInfo): string {
  const weights = info.weightsFile === null ? 'null' : `join(here, ${JSON.stringify(info.weightsFile)})`;
  return `// Loads this exported DFM model (${info.backbone}/${info.layer}, ${info.scoreType}) and scores images.
//   npm install            (the @dfm packages listed in package.json)
//   node loader.mjs image.png [more images...]
// Or from your code: import { loadExportedModel, scoreImages } from './loader.mjs'.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setBackend } from '@dfm/backbone';
import { Dfm, Engine } from '@dfm/lightning-like';

const here = dirname(fileURLToPath(import.meta.url));

/** The model with its thresholds, its backbone weights read from this folder. Call dispose() when done. */
export async function loadExportedModel(options = {}) {
  return Dfm.load(join(here, 'model.dfm'), { weights: ${weights}, ...options });
}

/** Scores image files → [{ path, predScore, normalizedScore, predLabel }]; heatmap PNGs go to outputDir when given. */
export async function scoreImages(paths, { outputDir } = {}) {
  const model = await loadExportedModel(outputDir ? {} : { visualizer: false });
  try {
    return await new Engine({ checkpoint: false }).predict(model, paths, outputDir ? { outputDir } : {});
  } finally {
    model.dispose();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const paths = process.argv.slice(2);
  if (paths.length === 0) {
    process.stderr.write('usage: node loader.mjs image.png [more images...]\\n');
    process.exit(2);
  }
  await setBackend();
  for (const prediction of await scoreImages(paths)) process.stdout.write(\`\${JSON.stringify(prediction)}\\n\`);
}
`;
}

export function loaderBrowser(info: ExportInfo): string {
  return `// Browser loader for this exported DFM model (${info.backbone}/${info.layer}, ${info.scoreType}, ${info.imageSize.join('×')} px).
// An ES module: bundle it (e.g. with Vite or esbuild) together with @dfm/backbone, @dfm/core,
// @dfm/linalg and @tensorflow/tfjs-core (+ @tensorflow/tfjs-backend-wasm or -webgl).
// It fetches manifest.json, model.dfm and the weights, checks their sha256, and rebuilds the model
// from bytes; it never touches a file system. See README.md here for what works in a browser today.
import { normalizeImages } from '@dfm/backbone';
import { DFMModel } from '@dfm/core';
import * as tf from '@tensorflow/tfjs-core';

async function fetchBytes(url, fetchImpl) {
  const response = await fetchImpl(url);
  if (!response.ok) throw new Error(\`loadExportedModel(): GET \${url} answered HTTP \${response.status}. Serve this folder over HTTP.\`);
  return new Uint8Array(await response.arrayBuffer());
}

async function sha256Hex(bytes) {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Loads the model from \`baseUrl\` (the URL of this folder, ending in '/').
 * → { model: DFMModel, imageSize: [h, w], stats: thresholds or null, manifest }.
 */
export async function loadExportedModel(baseUrl = './', { fetch: fetchImpl = globalThis.fetch } = {}) {
  const manifest = JSON.parse(new TextDecoder().decode(await fetchBytes(\`\${baseUrl}manifest.json\`, fetchImpl)));
  const load = async (entry) => {
    const bytes = await fetchBytes(\`\${baseUrl}\${entry.file}\`, fetchImpl);
    const digest = await sha256Hex(bytes);
    if (digest !== entry.sha256) throw new Error(\`loadExportedModel(): \${entry.file} has sha256 \${digest}, the manifest says \${entry.sha256}. Copy the folder again.\`);
    return bytes;
  };
  const modelBytes = await load(manifest.files.model);
  const weights = manifest.files.weights ? await load(manifest.files.weights) : null;
  // DFMModel.load checks the file (format, shapes, weights' sha256) and restores its pre- and post-processing.
  const model = await DFMModel.load(modelBytes, { weights, label: 'model.dfm' });
  return { model, imageSize: model.imageSize ?? [256, 256], stats: model.postProcessing, manifest };
}

/**
 * Scores one image already resized to imageSize: an ImageData (RGBA bytes, e.g. from a canvas) or a
 * Float32Array of RGB in [0, 1], HWC. → { predScore, normalizedScore, predLabel, anomalyMap? (Float32Array h·w) }.
 */
export async function scoreImage(loaded, image) {
  const [height, width] = loaded.imageSize;
  let rgb = image;
  if (!(image instanceof Float32Array)) {
    rgb = new Float32Array(height * width * 3);
    for (let i = 0; i < height * width; i += 1) for (let c = 0; c < 3; c += 1) rgb[i * 3 + c] = image.data[i * 4 + c] / 255;
  }
  const normalization = loaded.model.preProcessing.normalization;
  const batch = tf.tidy(() => {
    const raw = tf.tensor4d(rgb, [1, height, width, 3]);
    return normalization === null ? raw : normalizeImages(raw, normalization);
  });
  try {
    const { predScore, anomalyMap } = await loaded.model.predict(batch);
    const score = (await predScore.data())[0];
    const map = anomalyMap ? await anomalyMap.data() : undefined;
    tf.dispose([predScore, anomalyMap]);
    const stats = loaded.stats;
    const range = stats && stats.imageMax > stats.imageMin ? stats.imageMax - stats.imageMin : 1;
    const normalizedScore = stats ? Math.min(1, Math.max(0, (score - stats.imageThreshold) / range + 0.5)) : null;
    return { predScore: score, normalizedScore, predLabel: stats ? (score > stats.imageThreshold ? 1 : 0) : null, anomalyMap: map };
  } finally {
    batch.dispose();
  }
}
`;
}

export function indexHtml(info: ExportInfo): string {
  return `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>DFM model: ${info.backbone}/${info.layer}</title>
<h1>DFM anomaly score</h1>
<p>Pick an image; it is resized to ${info.imageSize.join('×')} on a canvas and scored in the browser.</p>
<input type="file" id="file" accept="image/*">
<pre id="result">loading the model…</pre>
<canvas id="canvas" width="${info.imageSize[1]}" height="${info.imageSize[0]}" hidden></canvas>
<!-- loader-browser.js imports npm packages: serve this page through a bundler (see README.md). -->
<script type="module">
  import * as tf from '@tensorflow/tfjs-core';
  import '@tensorflow/tfjs-backend-wasm';
  import { loadExportedModel, scoreImage } from './loader-browser.js';

  const result = document.getElementById('result');
  await tf.setBackend('wasm');
  const loaded = await loadExportedModel('./');
  result.textContent = 'model loaded; pick an image';
  document.getElementById('file').addEventListener('change', async (event) => {
    const bitmap = await createImageBitmap(event.target.files[0]);
    const canvas = document.getElementById('canvas');
    const context = canvas.getContext('2d');
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const scored = await scoreImage(loaded, context.getImageData(0, 0, canvas.width, canvas.height));
    result.textContent = JSON.stringify({ ...scored, anomalyMap: undefined }, null, 2);
  });
</script>
</html>
`;
}

export function exportPackageJson(info: ExportInfo): string {
  const range = `^${info.version}`;
  return `${JSON.stringify(
    {
      name: 'dfm-exported-model',
      private: true,
      type: 'module',
      description: `DFM model (${info.backbone}/${info.layer}, ${info.scoreType}) exported by dfm export`,
      scripts: { predict: 'node loader.mjs' },
      dependencies: {
        '@dfm/backbone': range,
        '@dfm/core': range,
        '@dfm/lightning-like': range,
        '@dfm/linalg': range,
        '@tensorflow/tfjs-core': '4.22.0',
      },
    },
    null,
    2,
  )}\n`;
}

export function exportReadme(info: ExportInfo): string {
  return `# Exported DFM model

${info.backbone}/${info.layer}, score ${info.scoreType}, images resized to ${info.imageSize.join('×')}.
Written by \`dfm export\` (@dfm/cli ${info.version}).

| file | what |
|---|---|
| \`model.dfm\` | the fitted model (PCA, thresholds), unchanged from the one exported |
| \`${info.weightsFile ?? '(none: seeded random weights)'}\` | the backbone weights the model was fitted with (sha256 checked) |
| \`manifest.json\` | sha256 and size of every file, the model's config |
| \`loader.mjs\` | Node: \`npm install && node loader.mjs image.png\`, or \`import { scoreImages } from './loader.mjs'\` |
| \`loader-browser.js\`, \`index.html\` | browser: fetch → bytes → model, score a canvas image |

## Node
\`\`\`sh
npm install
node loader.mjs part-0001.png part-0002.png   # one JSON line per image: predScore, normalizedScore, predLabel
\`\`\`
Scores equal \`dfm predict\`'s for the same images (same decoding and resizing).

## Browser: what works and what does not yet
- Works: fetching the files, checking their sha256, rebuilding the model from bytes
  (\`loadExportedModel\`), and scoring an image you give as a canvas \`ImageData\` (\`scoreImage\`).
  \`loader-browser.js\` is tested in Node with an in-memory fetch.
- You need a bundler: the page imports npm packages. The \`@dfm\` packages' entry points also
  import Node built-ins (\`node:fs\`, \`node:crypto\`) for file loading and downloads; the browser
  path does not call them, but your bundler must stub them (Vite does so with a warning). This
  set-up is not tested in a real browser yet.
- Image decoding and resizing in the browser come from the canvas, not from sharp's decoder and the
  antialiased resize used in Node, so scores differ slightly from \`dfm predict\`'s (resize the
  image to ${info.imageSize.join('×')} yourself with an antialiasing filter to get closer).
- Heatmap PNGs, metrics and the results directory are Node-only (\`@dfm/lightning-like\` uses sharp).
`;
}
