import { describe, expect, it } from 'vitest';
import { oneLine } from './errors';
import { makeIo } from './io';
import { OPTION_SPECS, parseFlags, resolveOptions } from './options';

describe('options', () => {
  it('flags override the config file, which overrides the defaults', () => {
    const flags = parseFlags('test', ['--pca-level', '0.9', '--image-size', '128x96', '--json']);
    const { options, explicit } = resolveOptions(flags, { pcaLevel: 0.5, backbone: 'resnet18' }, {});
    expect(options).toMatchObject({ pcaLevel: 0.9, backbone: 'resnet18', layer: 'layer3', imageSize: [128, 96], json: true, weights: 'imagenet' });
    expect([...explicit].sort()).toEqual(['backbone', 'imageSize', 'json', 'pcaLevel']);
  });

  it('the default backend follows DFM_BACKEND', () => {
    expect(resolveOptions({}, {}, { DFM_BACKEND: 'cpu' }).options.backend).toBe('cpu');
    expect(resolveOptions({}, {}, {}).options.backend).toBe('auto');
  });

  it('uses the library names for every model option', () => {
    const flags = OPTION_SPECS.map((s) => s.flag);
    for (const flag of ['backbone', 'layer', 'weights', 'pooling-kernel-size', 'pca-level', 'score-type', 'image-size', 'batch-size', 'on-bad-image', 'engine']) {
      expect(flags).toContain(flag);
    }
  });

  it('folds a multi-line message onto one line', () => {
    expect(oneLine('a\n  b\n\nc')).toBe('a b c');
  });

  it('colours stderr only on a TTY without NO_COLOR', () => {
    const tty = { isTTY: true } as unknown as NodeJS.WritableStream;
    expect(makeIo(tty, tty, false, false, {}).color).toBe(true);
    expect(makeIo(tty, tty, false, false, { NO_COLOR: '1' }).color).toBe(false);
    expect(makeIo(tty, { isTTY: false } as unknown as NodeJS.WritableStream, false, false, {}).color).toBe(false);
  });
});
