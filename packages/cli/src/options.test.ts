import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { oneLine, UsageError } from './errors';
import { makeIo } from './io';
import { coerceOption, flagError, OPTION_SPECS, PCA_LEVEL_HELP, parseFlags, resolveOptions, specOf } from './options';

/** A stream that drops what is written, as a terminal (isTTY) or not. */
function stream(isTTY: boolean): NodeJS.WritableStream {
  return Object.assign(new Writable({ write: (_chunk, _encoding, done) => done() }), { isTTY });
}

/** The UsageError `fn` throws. */
function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('options', () => {
  it('flags override the config file, which overrides the defaults', () => {
    const { flags } = parseFlags('test', ['--pca-level', '0.9', '--image-size', '128x96', '--json']);
    const { options, explicit } = resolveOptions(flags, { pcaLevel: 0.5, backbone: 'resnet18' }, {});
    expect(options).toMatchObject({ pcaLevel: 0.9, backbone: 'resnet18', layer: 'layer3', imageSize: [128, 96], json: true, weights: 'imagenet', runtime: 'auto', overwrite: false });
    expect([...explicit].sort()).toEqual(['backbone', 'imageSize', 'json', 'pcaLevel']);
  });

  it('the default backend follows DFM_BACKEND', () => {
    expect(resolveOptions({}, {}, { DFM_BACKEND: 'cpu' }).options.backend).toBe('cpu');
    expect(resolveOptions({}, {}, {}).options.backend).toBe('auto');
  });

  it('uses the library names for every model option', () => {
    const flags = OPTION_SPECS.filter((s) => s.deprecatedFor === undefined).map((s) => s.flag);
    for (const flag of ['backbone', 'layer', 'weights', 'pooling-kernel-size', 'pca-level', 'score-type', 'image-size', 'batch-size', 'on-bad-image', 'runtime', 'test-split-mode', 'test-split-ratio']) {
      expect(flags).toContain(flag);
    }
    expect(flags).not.toContain('engine');
  });

  it('--runtime picks the backbone runtime; --engine still works for one release, with one warning', () => {
    expect(parseFlags('train', ['--runtime', 'onnxruntime'])).toEqual({ flags: { runtime: 'onnxruntime' }, warnings: [] });
    const deprecated = parseFlags('predict', ['--engine', 'tfjs']);
    expect(deprecated).toEqual({ flags: { runtime: 'tfjs' }, warnings: ['--engine is deprecated; use --runtime (same values)'] });
    expect(resolveOptions(deprecated.flags, {}, {}).options.runtime).toBe('tfjs');
    // the same value twice is fine; two different values are refused
    expect(parseFlags('test', ['--engine', 'tfjs', '--runtime', 'tfjs']).flags).toEqual({ runtime: 'tfjs' });
    expect(usageError(() => parseFlags('test', ['--engine', 'tfjs', '--runtime', 'onnxruntime'])).message).toBe(
      'dfm test: --engine and --runtime must not disagree — got --engine tfjs and --runtime onnxruntime. --engine is the deprecated name of --runtime: pass --runtime only.',
    );
    expect(() => resolveOptions({ runtime: 'gpu' }, {}, {})).toThrow(/^dfm: --runtime must be one of auto, tfjs, onnxruntime — got "gpu"\./);
    // bench: --runtimes, and --engines as its deprecated name; values are checked
    expect(parseFlags('bench', ['--engines', 'tfjs-wasm'])).toEqual({ flags: { runtimes: 'tfjs-wasm' }, warnings: ['--engines is deprecated; use --runtimes (same values)'] });
    expect(resolveOptions({ runtimes: 'tfjs-wasm,onnxruntime' }, {}, {}).options.runtimes).toEqual(['tfjs-wasm', 'onnxruntime']);
    expect(() => resolveOptions({ runtimes: 'tfjs-wasm,tfjs-wsm' }, {}, {})).toThrow(
      /^dfm: --runtimes must list values among onnxruntime, onnxruntime-int8, tfjs-wasm-workers, tfjs-wasm — got "tfjs-wsm"\. Did you mean tfjs-wasm\?$/,
    );
  });

  it('--pca-level: a variance ratio in (0, 1) or an integer count ≥ 1; 1 means one component; 1.5, 0 and 1.0001 are refused', () => {
    expect(specOf('pcaLevel').help).toBe(PCA_LEVEL_HELP);
    expect(PCA_LEVEL_HELP).toBe('PCA: a variance ratio in (0, 1), or an integer component count ≥ 1 (1 = one component)');
    const pca = specOf('pcaLevel');
    for (const ok of ['0.97', '0.5', '1e-3', '1', '16', '1.0']) expect(coerceOption(pca, ok, 'flag'), ok).toBe(Number(ok));
    for (const bad of ['1.5', '0', '-0.2', '1.0001', 'abc', '', 'Infinity']) {
      expect(() => coerceOption(pca, bad, 'flag'), bad).toThrow(
        new RegExp(
          `^dfm: --pca-level must be a variance ratio in \\(0, 1\\) or an integer component count ≥ 1 \\(1 = one component\\) — got ${JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\. Use e\\.g\\. 0\\.97 \\(keep 97% of the variance\\) or 16 \\(16 components\\)\\.$`,
        ),
      );
    }
    expect(() => coerceOption(pca, 2.5, 'config')).toThrow(/^dfm: config key 'pcaLevel' must be a variance ratio in \(0, 1\)/);
  });

  it('ratios are checked against their range', () => {
    expect(() => resolveOptions({ testSplitRatio: '1.5' }, {}, {})).toThrow(/^dfm: --test-split-ratio must be a number in \[0, 1\] — got "1\.5"\.$/);
    expect(resolveOptions({ testSplitMode: 'synthetic', testSplitRatio: '0.3' }, {}, {}).options).toMatchObject({ testSplitMode: 'synthetic', testSplitRatio: 0.3 });
  });

  it('parseArgs errors become UsageErrors chosen by their code, not their text', () => {
    const unknown = usageError(() => parseFlags('train', ['--pca-levl', '3']));
    expect(unknown.code).toBe('E_USAGE');
    expect(unknown.message).toBe("dfm train: unknown option --pca-levl. Did you mean --pca-level? Run 'dfm train --help' for its options.");
    expect(usageError(() => parseFlags('train', ['--input', 'x'])).message).toMatch(/^dfm train: --input is not an option of this command \(it belongs to dfm predict\)\./);
    expect(usageError(() => parseFlags('train', ['--data'])).message).toBe(
      "dfm train: --data needs a value. Example: --data DIR. A value starting with '-' is written --data=-VALUE. Run 'dfm train --help' for its options.",
    );
    expect(usageError(() => parseFlags('train', ['--data', '--json'])).message).toMatch(/^dfm train: --data needs a value\./);
    expect(usageError(() => parseFlags('train', ['--json=yes'])).message).toBe("dfm train: --json is a switch and takes no value. Run 'dfm train --help' for its options.");
    expect(usageError(() => parseFlags('predict', ['photo.png'])).message).toMatch(/^dfm predict: unexpected argument 'photo\.png' — every input is given with a flag/);
    // The code decides: the same text with another code is not taken for an unknown option …
    const lookalike = flagError('train', Object.assign(new Error("Unknown option '--frob'"), { code: 'ERR_SOMETHING_ELSE' }));
    expect(lookalike.message).toBe("dfm train: Unknown option '--frob'. Run 'dfm train --help' for its options.");
    // … and the code alone, whatever the wording, is.
    const reworded = flagError('train', Object.assign(new Error("Option '--frob' is not known"), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }));
    expect(reworded.message).toBe("dfm train: unknown option --frob. Run 'dfm train --help' for its options.");
    expect(reworded).toBeInstanceOf(UsageError);
  });

  it('folds a multi-line message onto one line', () => {
    expect(oneLine('a\n  b\n\nc')).toBe('a b c');
  });

  it('colours stderr only on a TTY without NO_COLOR', () => {
    expect(makeIo(stream(true), stream(true), false, false, {}).color).toBe(true);
    expect(makeIo(stream(true), stream(true), false, false, { NO_COLOR: '1' }).color).toBe(false);
    expect(makeIo(stream(true), stream(false), false, false, {}).color).toBe(false);
  });
});
