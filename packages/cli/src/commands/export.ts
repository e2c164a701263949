import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BackboneName, encodeSafetensors, loadSafetensors, resolveWeights } from '@dfm/backbone';
import { writeFileAtomic } from '@dfm/backbone/internal';
import { exportOnnx, loadModel, type ModelFileMetadata, readModelMetadata, saveOnnxExport } from '@dfm/core';
import { DfmError } from '@dfm/errors';
import { UsageError } from '../errors';
import { exportReadme, onnxExportReadme } from '../export-templates';
import { log, seconds, writeJson } from '../io';
import type { CommandContext } from '../setup';
import { checkWeights, selectBackend } from '../setup';
import { VERSION } from '../version';

/** A file of the export folder as the manifest lists it: a path relative to the folder. */
export interface ManifestFile {
  path: string;
  sha256: string;
  bytes: number;
}

/** `manifest.json` of an export folder (what `loadDetector(folderUrl)` reads). Paths are relative to the folder. */
export interface ExportManifest {
  format: 'dfm-export';
  version: 1;
  /** A name for people (the dataset and category the model was fitted on, else the model file's name). */
  name: string;
  files: {
    model: ManifestFile;
    weights: ManifestFile | null;
    script: ManifestFile;
    wasm: (ManifestFile & { runtime: string })[];
    page: ManifestFile;
    readme: ManifestFile;
  };
  model: {
    backbone: string;
    layer: string;
    scoreType: string;
    imageSize: [number, number] | null;
    preProcessing: ModelFileMetadata['preProcessing'];
    postProcessing: ModelFileMetadata['postProcessing'];
    weightsId: string;
    weightsSha256: string | null;
  };
  /** The @dfm/cli that wrote the folder (its dfm.js bundles the @dfm/core of the same release). */
  packageVersion: string;
  /** The model file's format version. */
  modelFormatVersion: string;
  /** The runtimes bundled into dfm.js. */
  runtimes: Record<string, string>;
}

/** What the build (scripts/build-browser.mjs) wrote beside dfm.js in dist/browser/. */
interface BrowserFiles {
  script: string;
  wasm: { path: string; runtime: string }[];
  page: string;
  versions: Record<string, string>;
}

function sha256Of(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * dist/browser/ of this package: beside the built module (dist/*.js), or, when the CLI runs from
 * its TypeScript sources (the tests), in the package's dist/ (built by `pnpm build`).
 */
function browserFilesDir(): string {
  const candidates = [new URL('./browser/', import.meta.url), new URL('../../dist/browser/', import.meta.url)].map((url) => fileURLToPath(url));
  const found = candidates.find((dir) => existsSync(join(dir, 'browser-files.json')));
  if (found === undefined) {
    throw new DfmError(
      `dfm export: the browser files of @dfm/cli (dfm.js, the .wasm files, index.html) are missing — looked in ${candidates.join(' and ')}. This @dfm/cli is not built completely: run pnpm --filter @dfm/cli build in the repository, or reinstall @dfm/cli.`,
      { code: 'E_INTERNAL' },
    );
  }
  return found;
}

/** The weights' file name in the folder: the source's own name when it is a plain one, else `<architecture>.safetensors`. */
function weightsFileName(path: string, architecture: string): string {
  const name = basename(path);
  return /^[A-Za-z0-9][A-Za-z0-9._-]*\.safetensors$/.test(name) && name !== 'model.safetensors' ? name : `${architecture}.safetensors`;
}

function modelName(metadata: ModelFileMetadata, modelPath: string): string {
  const dataset = metadata.user.dataset as { name?: unknown; category?: unknown } | undefined;
  if (dataset !== undefined && typeof dataset.name === 'string' && typeof dataset.category === 'string') return `${dataset.name}/${dataset.category}`;
  return basename(modelPath).replace(/\.dfm$/i, '');
}

/**
 * `dfm export --model M --out DIR`: a folder any static file server can serve, and that Node can load
 * (`loadDetector(DIR)`): the model (a byte-identical copy), the backbone weights it was fitted with
 * (sha256 checked against the model's record), `dfm.js` (the Detector with both runtimes bundled,
 * no imports left), the runtimes' `.wasm` files, `index.html` (score an image in the page),
 * `README.md` and `manifest.json` (relative paths, sha256 and size of every file).
 */
export async function runExport(ctx: CommandContext): Promise<number> {
  const { options: o, io } = ctx;
  if (o.model === undefined || o.out === undefined) {
    throw new UsageError('dfm export: needs --model FILE and --out DIR. Example: dfm export --model results/dfm/mvtec/bottle/latest/model.dfm --out bottle-model/');
  }
  const modelPath = resolve(o.model);
  if (!existsSync(modelPath)) throw new UsageError(`dfm export: --model ${o.model} does not exist (looked at ${modelPath}). Run 'dfm train' first.`);
  const out = resolve(o.out);
  if (existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length > 0)) {
    throw new UsageError(`dfm export: --out ${o.out} already exists and is not an empty folder. Pick a new folder (nothing is overwritten).`);
  }
  if (ctx.explicit.has('precision') && o.precision !== undefined) {
    const fitted = readModelMetadata(readFileSync(modelPath), modelPath).config.precision;
    if (fitted !== o.precision) {
      throw new DfmError(
        `dfm export: --precision ${o.precision} asked for, but ${o.model} was fitted on ${fitted} features — an export keeps its model's precision (an int8 network needs activation ranges measured on the training images). Fit the model with --precision ${o.precision} first, or drop --precision.`,
        { code: 'E_PRECISION_MISMATCH' },
      );
    }
  }
  if (o.exportType === 'onnx') return runOnnxExport(ctx, modelPath, out);
  const browser = browserFilesDir();
  const browserFiles = JSON.parse(readFileSync(join(browser, 'browser-files.json'), 'utf8')) as BrowserFiles;
  const modelBytes = readFileSync(modelPath);
  const metadata = readModelMetadata(modelBytes, modelPath);
  const record = metadata.backbone;
  if (ctx.explicit.has('weights')) checkWeights('export', o.weights);
  const source = ctx.explicit.has('weights') ? o.weights : record.weightsSource;
  let weightsPath: string | null = null;
  if (record.weightsSha256 !== null) {
    if (source === null) {
      throw new UsageError(`dfm export: ${o.model} was fitted with weights ${record.weightsId} but records no place to find them. Pass --weights FILE (sha256 ${record.weightsSha256}).`);
    }
    const resolved = await resolveWeights(source, {
      architecture: record.name as BackboneName,
      sha256: record.weightsSha256,
      seed: metadata.config.seed,
    });
    if (resolved.path === null) {
      throw new UsageError(`dfm export: the weights ${String(source)} resolve to no file. Pass --weights FILE (sha256 ${record.weightsSha256}).`);
    }
    weightsPath = resolved.path;
  }

  mkdirSync(out, { recursive: true });
  writeFileAtomic(join(out, 'model.dfm'), withoutWeightsSource(modelBytes, modelPath));
  let weightsFile: string | null = null;
  if (weightsPath !== null && record.weightsSha256 !== null) {
    weightsFile = weightsFileName(weightsPath, record.name);
    copyFileSync(weightsPath, join(out, weightsFile));
    const copied = sha256Of(join(out, weightsFile));
    if (copied !== record.weightsSha256) {
      throw new UsageError(`dfm export: the copied weights have sha256 ${copied}, the model records ${record.weightsSha256}. The source ${weightsPath} changed while copying; run dfm export again.`);
    }
  }
  for (const file of [browserFiles.script, browserFiles.page, ...browserFiles.wasm.map((w) => w.path)]) copyFileSync(join(browser, file), join(out, file));
  const name = modelName(metadata, modelPath);
  writeFileAtomic(
    join(out, 'README.md'),
    exportReadme({
      name,
      weightsFile,
      backbone: record.name,
      layer: record.layer,
      scoreType: metadata.config.scoreType,
      imageSize: metadata.preProcessing.imageSize ?? metadata.imageSize,
      thresholds: metadata.postProcessing !== null,
      version: VERSION,
      runtimes: browserFiles.versions,
    }),
  );

  const entry = (path: string): ManifestFile => ({ path, sha256: sha256Of(join(out, path)), bytes: statSync(join(out, path)).size });
  const manifest: ExportManifest = {
    format: 'dfm-export',
    version: 1,
    name,
    files: {
      model: entry('model.dfm'),
      weights: weightsFile === null ? null : entry(weightsFile),
      script: entry(browserFiles.script),
      wasm: browserFiles.wasm.map((w) => ({ ...entry(w.path), runtime: w.runtime })),
      page: entry(browserFiles.page),
      readme: entry('README.md'),
    },
    model: {
      backbone: record.name,
      layer: record.layer,
      scoreType: metadata.config.scoreType,
      imageSize: metadata.preProcessing.imageSize ?? metadata.imageSize,
      preProcessing: metadata.preProcessing,
      postProcessing: metadata.postProcessing,
      weightsId: record.weightsId,
      weightsSha256: record.weightsSha256,
    },
    packageVersion: VERSION,
    modelFormatVersion: metadata.formatVersion,
    runtimes: browserFiles.versions,
  };
  writeFileAtomic(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  const total = (performance.now() - ctx.started) / 1000;
  if (io.json) {
    writeJson(io, { command: 'export', outDir: out, manifest, timing: { total_s: seconds(total) }, warnings: ctx.warnings });
  } else {
    log(io, `dfm export: ${o.model} → ${out}`);
    const files = [manifest.files.model, manifest.files.weights, manifest.files.script, ...manifest.files.wasm, manifest.files.page, manifest.files.readme]
      .filter((f): f is ManifestFile => f !== null)
      .map((f) => `  ${f.path.padEnd(40)} ${(f.bytes >= 1e6 ? `${(f.bytes / 1e6).toFixed(1)} MB` : `${(f.bytes / 1e3).toFixed(1)} kB`).padStart(9)}`);
    io.out.write(
      `exported to ${out}\n${files.join('\n')}\n  manifest.json\n` +
        `  weights sha256 ${record.weightsSha256 ?? '- (seeded random weights: none copied)'} (checked)\n` +
        `  try: serve the folder (e.g. cd ${o.out} && python3 -m http.server) and open http://localhost:8000/ — or in Node: await loadDetector('${o.out}') from @dfm/core\n`,
    );
  }
  return 0;
}

/**
 * `dfm export --export-type onnx`: the whole model as one ONNX graph (`model.onnx`, opset 17) with
 * `metadata.json` and a README: what Python, C# or C++ need to score images with any ONNX runtime.
 */
async function runOnnxExport(ctx: CommandContext, modelPath: string, out: string): Promise<number> {
  const { options: o, io } = ctx;
  if (ctx.explicit.has('weights')) checkWeights('export', o.weights);
  // The graph is built from the model's tensors on tfjs; the backbone's weights are folded in as it runs them.
  await selectBackend(ctx);
  // An int8 backbone exists on onnxruntime only (its graph is what is exported either way).
  const int8 = readModelMetadata(readFileSync(modelPath), modelPath).config.precision === 'int8';
  const { model, metadata } = await loadModel(modelPath, {
    ...(int8 ? { runtime: 'onnxruntime' as const } : { runtime: 'tfjs' as const, workers: 0 }),
    ...(ctx.explicit.has('precision') && o.precision !== undefined ? { precision: o.precision } : {}),
    ...(ctx.explicit.has('weights') && o.weights !== null ? { weights: o.weights } : {}),
  });
  let written: { model: string; metadata: string };
  let exported: Awaited<ReturnType<typeof exportOnnx>>;
  try {
    exported = await exportOnnx(model, { user: metadata.user });
    written = await saveOnnxExport(out, exported);
  } finally {
    model.dispose();
  }
  const name = modelName(metadata, modelPath);
  writeFileAtomic(join(out, 'README.md'), onnxExportReadme({ name, metadata: exported.metadata, version: VERSION }));
  const total = (performance.now() - ctx.started) / 1000;
  if (io.json) {
    writeJson(io, { command: 'export', exportType: 'onnx', outDir: out, files: { ...written, readme: join(out, 'README.md') }, metadata: exported.metadata, timing: { total_s: seconds(total) }, warnings: ctx.warnings });
    return 0;
  }
  const { model: file, input, outputs } = exported.metadata;
  const size = (bytes: number) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`);
  io.out.write(
    `exported to ${out}
` +
      `  ${'model.onnx'.padEnd(16)} ${size(file.bytes).padStart(9)}  opset ${file.opset}, sha256 ${file.sha256}
` +
      `  metadata.json, README.md
` +
      `  input   ${input.name} [${input.shape.join(', ')}] float32 RGB in [0, 1], NCHW — resize to ${input.resize.size[0]}×${input.resize.size[1]} (${input.resize.kernel}) first
` +
      `  outputs ${outputs.map((output) => output.name).join(', ')}
` +
      `  try: in Node await loadDetector('${o.out}') from @dfm/core; in Python see ${join(o.out ?? out, 'README.md')} (docs/deploy.md)
`,
  );
  return 0;
}

/**
 * The model's bytes with `backbone.weightsSource` (where `dfm train` found the weights: often an
 * absolute path of this machine) set to null: the folder names its weights in manifest.json, and
 * an exported folder holds no path of the machine that exported it. Every tensor, the config, the
 * weights id and sha256, the pre- and post-processing are unchanged.
 */
function withoutWeightsSource(modelBytes: Uint8Array, modelPath: string): Uint8Array {
  const { tensors, metadata } = loadSafetensors(modelBytes, { label: modelPath });
  const backbone = JSON.parse(metadata?.backbone ?? 'null') as Record<string, unknown> | null;
  if (metadata === undefined || backbone === null) return modelBytes; // readModelMetadata already vetted the file
  return encodeSafetensors(
    Object.fromEntries([...tensors].map(([name, tensor]) => [name, { shape: tensor.shape, data: tensor.data }])),
    { ...metadata, backbone: JSON.stringify({ ...backbone, weightsSource: null }) },
  );
}
