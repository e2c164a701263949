#!/usr/bin/env node
/**
 * Writes the features `dfm train` fits on — the same pipeline: the folder's images through @dfm/data's loader
 * (sorted, resized to 256 px), the backbone, average pooling — as float32 rows `[N, D]`, no header, in the
 * loader's order. For comparing the fit's PCA with numpy's on the same features
 * (packages/linalg/bench/scale-reference.py), e.g. the 20,000-image fit of issue 17 (docs/benchmarks.md).
 *
 * Usage: node packages/cli/scripts/dump-features.mjs DIR OUT.f32 [--backbone resnet18] [--layer layer3] [--weights SPEC]
 * Prints one JSON line: { rows, nFeatures, numComponents } (numComponents: the PCA the same fit gives).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setBackend } from '@dfm/backbone';
import { Folder } from '@dfm/data';
import { Dfm, Engine } from '@dfm/lightning-like';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { backbone: { type: 'string', default: 'resnet18' }, layer: { type: 'string', default: 'layer3' }, weights: { type: 'string' } },
});
const [dir, out] = positionals;
if (dir === undefined || out === undefined) {
  process.stderr.write('usage: dump-features.mjs DIR OUT.f32 [--backbone NAME] [--layer NAME] [--weights SPEC]\n');
  process.exit(2);
}

/** A Dfm that keeps a copy of each training batch's features. */
class FeatureDump extends Dfm {
  rows = [];
  async trainingStep(batch) {
    const { features } = await this.model.getFeatures(batch.images);
    this.rows.push(await features.data());
    this.nFeatures = features.shape[1];
    features.dispose();
    return super.trainingStep(batch);
  }
}

await setBackend('auto');
const model = new FeatureDump({ backbone: values.backbone, layer: values.layer, ...(values.weights ? { weights: values.weights } : {}) });
const engine = new Engine({ defaultRootDir: `${out}.runs`, batchSize: 16 });
await engine.fit(model, new Folder({ normalDir: dir, testSplitMode: 'none', valSplitMode: 'none' }));
const total = model.rows.reduce((sum, rows) => sum + rows.length, 0);
const all = new Float32Array(total);
let offset = 0;
for (const rows of model.rows) {
  all.set(rows, offset);
  offset += rows.length;
}
writeFileSync(out, all);
process.stdout.write(`${JSON.stringify({ rows: total / model.nFeatures, nFeatures: model.nFeatures, numComponents: model.model.numComponents })}\n`);
