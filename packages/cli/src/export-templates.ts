/**
 * The README that `dfm export` writes into an export folder. (The folder's other files are built
 * with the package: dist/browser/ holds dfm.js, the .wasm files and index.html; see
 * scripts/build-browser.mjs.)
 */

import type { OnnxExportMetadata } from '@dfm/core';

/** What the README says about the export. */
export interface ExportReadmeInfo {
  /** The model's name for people (dataset/category, or the model file's name). */
  name: string;
  /** File name of the backbone weights in the folder, or null for seeded random weights. */
  weightsFile: string | null;
  backbone: string;
  layer: string;
  scoreType: string;
  /** The size images are resized to, or null (no resizing). */
  imageSize: [number, number] | null;
  /** Whether the model has fitted thresholds (labels and normalised scores). */
  thresholds: boolean;
  /** @dfm/cli's version. */
  version: string;
  /** The runtimes bundled into dfm.js → their versions. */
  runtimes: Record<string, string>;
}

export function exportReadme(info: ExportReadmeInfo): string {
  const size = info.imageSize === null ? 'kept at their size' : `resized to ${info.imageSize[0]}×${info.imageSize[1]}`;
  const runtimes = Object.entries(info.runtimes)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const heatmap = info.scoreType === 'fre';
  const labels = info.thresholds
    ? '`predLabel` is 1 (anomalous) or 0 (normal) and `normalizedScore` is in [0, 1] with the threshold at 0.5'
    : 'this model has no fitted thresholds, so `predLabel` and `normalizedScore` are null';
  const snippet = [
    `<input type="file" id="file" accept="image/*"> <output id="result"></output>${heatmap ? ' <canvas id="heatmap"></canvas>' : ''}`,
    '<script type="module">',
    `  import { loadDetector${heatmap ? ', renderHeatmap' : ''} } from './dfm/dfm.js';`,
    "  const detector = await loadDetector();   // the folder dfm.js is in; or loadDetector('https://…/dfm/', { runtime: 'tfjs' })",
    "  document.getElementById('file').onchange = async (event) => {",
    '    const result = await detector.predict(event.target.files[0]);   // a Blob/File, ImageBitmap, <img>, canvas or ImageData',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the page's code, a template literal there
    "    document.getElementById('result').textContent = `score ${result.predScore.toFixed(3)}, label ${result.predLabel}`;",
    ...(heatmap
      ? [
          '    const heat = renderHeatmap(result.anomalyMap);                  // RGBA pixels (ImageData-compatible)',
          "    const canvas = Object.assign(document.getElementById('heatmap'), { width: heat.width, height: heat.height });",
          "    canvas.getContext('2d').putImageData(new ImageData(heat.data, heat.width, heat.height), 0, 0);",
        ]
      : []),
    '  };',
    '</script>',
  ].join('\n');
  return `# DFM model: ${info.name}

${info.backbone}/${info.layer}, ${info.scoreType.toUpperCase()} score, images ${size}. Written by
\`dfm export\` (@dfm/cli ${info.version}). Everything here runs in a browser from any static file
server; nothing is uploaded anywhere.

| file | what |
|---|---|
| \`index.html\` | drop, pick or paste an image: score, label, threshold and heatmap |
| \`dfm.js\` | one ES module, no imports: \`loadDetector\`, \`renderHeatmap\` (@dfm/core's Detector with ${runtimes} inside) |
| \`*.wasm\`, \`ort-wasm-simd-threaded.mjs\` | the runtimes' WebAssembly (and onnxruntime-web's loader of it), fetched by \`dfm.js\` from its own folder |
| \`model.dfm\` | the fitted model (PCA, pre-processing, thresholds), a byte-for-byte copy of the one exported |
| \`${info.weightsFile ?? '(none)'}\` | ${info.weightsFile === null ? 'no file: the backbone has seeded random weights, rebuilt from the model file' : 'the backbone weights the model was fitted with (sha256 checked on load)'} |
| \`manifest.json\` | relative path, sha256 and size of every file; the model's settings |

## Open the page
Serve this folder over HTTP and open it, e.g. \`python3 -m http.server 8000\` here, then
http://localhost:8000/. Opened as a \`file://\` page, the browser refuses to load the files. The
server must send \`.wasm\` as \`application/wasm\` and \`.js\`/\`.mjs\` as JavaScript (python's and
nginx's do). The files are checked against \`manifest.json\`'s sha256 with WebCrypto, which browsers
give only to secure contexts: serve over https, or open it as \`localhost\`/\`127.0.0.1\`.

## Use dfm.js in your own page
Copy the folder next to your page (here as \`dfm/\`), then:
\`\`\`html
${snippet}
\`\`\`
${labels}. \`anomalyMap\` is ${info.scoreType === 'fre' ? 'the per-pixel anomaly map at the model\'s input size' : 'absent: an NLL model scores whole images only'}.
The detector decodes the image with the browser, then resizes and normalises it exactly as in training
(not with the canvas's resize), so its scores match \`dfm predict\`'s. \`runtime\`: \`'auto'\` (default:
onnxruntime-web), \`'onnxruntime'\` or \`'tfjs'\` (tfjs-core's wasm backend). \`await detector.close()\`
frees it.

## Node
@dfm/core's \`loadDetector\` reads the same folder (each file checked against the manifest):
\`\`\`js
import { loadDetector } from '@dfm/core';
const detector = await loadDetector('path/to/this/folder/');
console.log(await detector.predict('part-0001.png'));
\`\`\`
`;
}

/** What the README of an ONNX export says: the model's name and its metadata. */
export interface OnnxExportReadmeInfo {
  name: string;
  metadata: OnnxExportMetadata;
  /** @dfm/cli's version. */
  version: string;
}

/** The README that `dfm export --export-type onnx` writes beside model.onnx and metadata.json. */
export function onnxExportReadme(info: OnnxExportReadmeInfo): string {
  const { metadata } = info;
  const [height, width] = metadata.input.resize.size;
  const { config } = metadata;
  const outputs = metadata.outputs.map((o) => `| \`${o.name}\` | \`[${o.shape.join(', ')}]\` | ${o.dtype} | ${o.description} |`).join('\n');
  const kernel = metadata.input.resize.kernel === 'bilinear-antialiased' ? 'Image.BILINEAR' : 'Image.LANCZOS';
  const printed = metadata.outputs.some((o) => o.name === 'pred_label') ? 'out["pred_score"], out["normalized_score"], out["pred_label"]' : 'out["pred_score"]';
  return `# ${info.name}: DFM as one ONNX graph

Written by \`dfm export --export-type onnx\` (@dfm/cli ${info.version}): ${config.backbone} ${config.layer}, pooling ${config.poolingKernelSize}, ${metadata.nComponents} PCA components, ${config.scoreType.toUpperCase()} score${metadata.postProcessing === null ? ', no fitted thresholds' : ', thresholds inside the graph'}.

- \`model.onnx\`: the whole model (normalisation, backbone, PCA, score${config.scoreType === 'fre' ? ', anomaly map' : ''}${metadata.postProcessing === null ? '' : ', scaling, thresholds'}), ONNX opset ${metadata.model.opset}, sha256 \`${metadata.model.sha256}\`.
- \`metadata.json\`: everything below, machine-readable.

## Input

\`${metadata.input.name}\`: float32 \`[batch, 3, ${height}, ${width}]\`, NCHW, RGB, values in [0, 1] (pixel / 255).
Resize every image to ${height}×${width} (height × width) with ${metadata.input.resize.kernel} **on float values** before the graph (Pillow: \`${kernel}\` on mode "F" planes); grey images repeat their channel. The normalisation is inside the graph.

## Outputs

| name | shape | dtype | meaning |
|---|---|---|---|
${outputs}

## Python

\`\`\`python
import numpy as np, onnxruntime as ort
from PIL import Image

def prepare(path):
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return np.stack([np.asarray(Image.fromarray(rgb[:, :, c], mode="F").resize((${width}, ${height}), ${kernel})) for c in range(3)])

session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
out = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"image": np.stack([prepare("image.png")])})))
print(${printed})
\`\`\`

## Node / browser

\`\`\`js
import { loadDetector } from '@dfm/core';       // in a page: dfm.js of a \`dfm export\` folder
const detector = await loadDetector('./');      // this folder (onnxruntime-node in Node, onnxruntime-web in a page)
const result = await detector.predict('image.png');
\`\`\`

C#, C++ and the exact resize: docs/deploy.md of @dfm/cli (also in its package, docs/deploy.md).
`;
}
