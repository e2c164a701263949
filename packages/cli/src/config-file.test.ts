import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { camelCase, interpolate, normalizeConfig, readConfigFile } from './config-file';
import { resolveOptions } from './options';

describe('config files', () => {
  it('reads examples/configs/dfm.yaml into the library option names', () => {
    const file = new URL('../../../examples/configs/dfm.yaml', import.meta.url).pathname;
    const { values, warnings } = readConfigFile(file, { DFM_ASSETS_DIR: '/assets' });
    expect(values).toEqual({
      backbone: 'resnet18',
      layer: 'layer3',
      poolingKernelSize: 4,
      pcaLevel: 0.97,
      scoreType: 'fre',
      weights: '/assets/weights/resnet18-imagenet-layer1-3.safetensors',
      format: 'mvtec',
      data: '/assets/data',
      category: 'mvtec-bottle',
      batchSize: 16,
      valSplitMode: 'same_as_test',
      seed: 0,
      imageSize: 256,
      resultsDir: 'results',
    });
    expect(warnings).toEqual([]);
    const { options } = resolveOptions({ layer: 'layer2' }, values, {});
    expect(options).toMatchObject({ layer: 'layer2', backbone: 'resnet18', imageSize: [256, 256] });
  });

  it('takes flat camelCase, snake_case or kebab-case keys and JSON files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dfm-config-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ backbone: 'resnet34', 'pca-level': 0.9, score_type: 'nll', data: 'd', normalDir: 'good', pre_trained: false }));
    expect(readConfigFile(file, {}).values).toEqual({ backbone: 'resnet34', pcaLevel: 0.9, scoreType: 'nll', data: 'd', normalDir: 'good', weights: 'random' });
    expect(resolveOptions({}, readConfigFile(file, {}).values, {}).options.weights).toBeNull();
  });

  it('maps anomalib Folder configs and refuses other models', () => {
    const { values } = normalizeConfig(
      { data: { class_path: 'anomalib.data.Folder', init_args: { name: 'parts', root: 'ds', normal_dir: 'good', abnormal_dir: 'bad', mask_dir: 'masks' } } },
      'c.yaml',
    );
    expect(values).toEqual({ format: 'folder', category: 'parts', data: 'ds', normalDir: 'good', abnormalDir: 'bad', maskDir: 'masks' });
    expect(() => normalizeConfig({ model: { class_path: 'anomalib.models.Padim' } }, 'c.yaml')).toThrow(/only Dfm is implemented here/);
    expect(() => normalizeConfig(['x'], 'c.yaml')).toThrow(/must hold a mapping of options — got a list/);
  });

  it("reads runtime; a string engine is its deprecated name (warned about), a mapping engine is anomalib's trainer section", () => {
    expect(normalizeConfig({ runtime: 'onnxruntime' }, 'c.yaml')).toEqual({ values: { runtime: 'onnxruntime' }, warnings: [] });
    const old = normalizeConfig({ engine: 'tfjs' }, 'c.yaml');
    expect(old.values).toEqual({ runtime: 'tfjs' });
    expect(old.warnings).toEqual(['config c.yaml: engine is deprecated; use runtime (same values)']);
    expect(resolveOptions({}, old.values, {}).options.runtime).toBe('tfjs');
    expect(normalizeConfig({ model: { init_args: { engine: 'onnxruntime' } } }, 'c.yaml').warnings).toEqual([
      'config c.yaml: model.init_args.engine is deprecated; use runtime (same values)',
    ]);
    expect(normalizeConfig({ engine: { default_root_dir: 'out' } }, 'c.yaml')).toEqual({ values: { resultsDir: 'out' }, warnings: [] });
    expect(() => resolveOptions({}, normalizeConfig({ engine: 'cuda' }, 'c.yaml').values, {})).toThrow(/^dfm: config key 'runtime' must be one of auto, tfjs, onnxruntime — got "cuda"\./);
  });

  // `$` + `{NAME}` spelled apart, so the strings are not mistaken for template literals.
  const ref = (name: string) => `$${'{'}${name}}`;
  it('expands $' + '{VAR} and $' + '{VAR:-default}, and says which variable is missing', () => {
    expect(interpolate({ a: [`${ref('X')}/y`, ref('Y:-z')] }, { X: 'x' })).toEqual({ a: ['x/y', 'z'] });
    expect(() => interpolate(ref('NOPE'), {})).toThrow(/uses \$\{NOPE\}, but NOPE is not set/);
    expect(camelCase('pooling_kernel_size')).toBe('poolingKernelSize');
    expect(camelCase('image-size')).toBe('imageSize');
  });
});
