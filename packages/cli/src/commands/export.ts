import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type BackboneName, resolveWeights } from '@dfm/backbone';
import { writeFileAtomic } from '@dfm/backbone/internal';
import { readModelMetadata } from '@dfm/core';
import { UsageError } from '../errors';
import { exportPackageJson, exportReadme, type ExportInfo, indexHtml, loaderBrowser, loaderNode } from '../export-templates';
import { log, seconds, writeJson } from '../io';
import type { CommandContext } from '../setup';
import { checkWeights } from '../setup';
import { VERSION } from '../version';

function sha256Of(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * `dfm export --model M --out DIR`: a folder with the model (unchanged), the backbone weights it was
 * fitted with (sha256 checked against the model's record), Node and browser loaders and a manifest.
 */
export async function runExport(ctx: CommandContext): Promise<number> {
  const { options: o, io } = ctx;
  if (o.model === undefined || o.out === undefined) {
    throw new UsageError('dfm export: needs --model FILE and --out DIR. Example: dfm export --model results/dfm/mvtec/bottle/model.dfm --out bottle-model/');
  }
  const modelPath = resolve(o.model);
  if (!existsSync(modelPath)) throw new UsageError(`dfm export: --model ${o.model} does not exist (looked at ${modelPath}). Run 'dfm train' first.`);
  const out = resolve(o.out);
  if (existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length > 0)) {
    throw new UsageError(`dfm export: --out ${o.out} already exists and is not an empty folder. Pick a new folder (nothing is overwritten).`);
  }
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
  copyFileSync(modelPath, join(out, 'model.dfm'));
  let weightsFile: string | null = null;
  if (weightsPath !== null && record.weightsSha256 !== null) {
    weightsFile = 'backbone.safetensors';
    copyFileSync(weightsPath, join(out, weightsFile));
    const copied = sha256Of(join(out, weightsFile));
    if (copied !== record.weightsSha256) {
      throw new UsageError(`dfm export: the copied weights have sha256 ${copied}, the model records ${record.weightsSha256}. The source ${weightsPath} changed while copying; run dfm export again.`);
    }
  }
  const info: ExportInfo = {
    weightsFile,
    backbone: record.name,
    layer: record.layer,
    scoreType: metadata.config.scoreType,
    imageSize: metadata.imageSize ?? [256, 256],
    version: VERSION,
  };
  const texts: Record<string, string> = {
    'loader.mjs': loaderNode(info),
    'loader-browser.js': loaderBrowser(info),
    'index.html': indexHtml(info),
    'package.json': exportPackageJson(info),
    'README.md': exportReadme(info),
  };
  for (const [name, text] of Object.entries(texts)) writeFileAtomic(join(out, name), text);
  const entry = (file: string) => ({ file, sha256: sha256Of(join(out, file)), bytes: statSync(join(out, file)).size });
  const manifest = {
    format: 'dfm-export',
    version: 1,
    formatVersion: metadata.formatVersion,
    createdBy: `@dfm/cli ${VERSION}`,
    config: metadata.config,
    backbone: record,
    imageSize: metadata.imageSize,
    files: {
      model: entry('model.dfm'),
      weights: weightsFile === null ? null : entry(weightsFile),
      loaders: Object.keys(texts).map(entry),
    },
  };
  writeFileAtomic(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const total = (performance.now() - ctx.started) / 1000;
  if (io.json) {
    writeJson(io, { command: 'export', outDir: out, manifest, timing: { total_s: seconds(total) }, warnings: ctx.warnings });
  } else {
    log(io, `dfm export: ${o.model} → ${out}`);
    io.out.write(
      `exported to ${out}\n` +
        `  model.dfm, ${weightsFile ?? '(random weights: none copied)'}, manifest.json, loader.mjs, loader-browser.js, index.html, package.json, README.md\n` +
        `  weights sha256 ${record.weightsSha256 ?? '-'} (checked)\n` +
        `  try: cd ${out} && npm install && node loader.mjs image.png\n`,
    );
  }
  return 0;
}
