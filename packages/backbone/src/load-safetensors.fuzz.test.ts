import { describe, expect, it } from 'vitest';
import { FuzzTally, fuzzCount, joinSafetensors, mutateSafetensors } from '../test/mutate-safetensors';
import { encodeSafetensors } from './encode-safetensors';
import { loadSafetensors } from './load-safetensors';
import { RandomStream } from './random';
import { CorruptFileError } from '@dfm/errors';

/**
 * Mutation fuzzing: every mutated file either loads (its tensors then fit their shapes, and the
 * decoded data is at most twice the file's size: F16/BF16 widen to float32) or throws
 * CorruptFileError naming the file — never another error, a crash or a hang. 2,000 mutants by
 * default, 20,000 with DFM_NIGHTLY=1.
 */
describe('loadSafetensors under mutation (fuzz)', () => {
  const base = encodeSafetensors(
    {
      'conv1.weight': { shape: [4, 3, 3, 3], data: new Float32Array(108).map((_, i) => i / 7) },
      'bn1.running_var': { shape: [4], data: new Float32Array([1, 2, 3, 4]) },
      mean: { shape: [2, 3], data: new Float64Array([1, 2, 3, 4, 5, 6]) },
    },
    { format: 'pt', architecture: 'resnet18' },
  );

  it('handles every mutant with CorruptFileError or a consistent result (counts printed)', () => {
    const count = fuzzCount(2000, 20_000, 'loadSafetensors');
    const random = new RandomStream(2024, 'fuzz');
    const tally = new FuzzTally('loadSafetensors');
    for (let n = 0; n < count; n++) {
      const { kind, bytes } = mutateSafetensors(base, random);
      const label = `mutant-${n}`;
      tally.record(kind, label, () => {
        try {
          const { tensors } = loadSafetensors(bytes, { label, requireFinite: n % 2 === 0 });
          let decoded = 0;
          for (const [name, tensor] of tensors) {
            if (tensor.data.length !== tensor.shape.reduce((a, d) => a * d, 1)) throw new Error(`${name}: data does not fit its shape`);
            decoded += tensor.data.byteLength;
          }
          if (decoded > 2 * bytes.length) throw new Error(`decoded ${decoded} bytes from a ${bytes.length}-byte file`);
          return 'accepted';
        } catch (error) {
          if (!(error instanceof CorruptFileError)) throw error;
          if (error.file !== label || !error.message.startsWith(`loadSafetensors(): ${label} `)) {
            throw new Error(`the error does not name the file: ${error.message}`);
          }
          return 'rejected';
        }
      });
    }
    process.stdout.write(`${tally.summary()}\n`);
    expect(tally.failures).toEqual([]);
    expect(tally.crashes).toBe(0);
    expect(tally.hangs).toBe(0);
    expect(tally.tried).toBe(count);
    expect(tally.rejected).toBeGreaterThan(count / 2);
  });

  it('refuses a header declaring a huge tensor before allocating it', () => {
    const before = process.memoryUsage();
    const huge = [
      // 4e18 bytes declared, with offsets that claim them
      { w: { dtype: 'F32', shape: [1e9, 1e9], data_offsets: [0, 4e18] } },
      // a plausible 40 GB tensor in a 100-byte file
      { w: { dtype: 'F64', shape: [100_000, 50_000], data_offsets: [0, 40_000_000_000] } },
      // shape and offsets disagree: small offsets, huge shape
      { w: { dtype: 'F32', shape: [2 ** 31, 2 ** 31], data_offsets: [0, 16] } },
    ];
    for (const header of huge) {
      const bytes = joinSafetensors(header, new Uint8Array(16));
      expect(() => loadSafetensors(bytes, { label: 'huge.safetensors' })).toThrow(CorruptFileError);
      expect(() => loadSafetensors(bytes, { label: 'huge.safetensors' })).toThrow(/huge\.safetensors is not a valid safetensors file — tensor "w"/);
    }
    const grown = process.memoryUsage().arrayBuffers - before.arrayBuffers;
    expect(grown).toBeLessThan(16 * 2 ** 20);
  });

  it('limits the header length (default 100 MB, configurable) before reading it', () => {
    const bytes = joinSafetensors({ __metadata__: { note: 'x'.repeat(4096) } }, new Uint8Array(0));
    expect(() => loadSafetensors(bytes, { label: 'big-header.safetensors', maxHeaderBytes: 1024 })).toThrow(
      /big-header\.safetensors is not a valid safetensors file — the header length 41\d\d exceeds the limit of 1024 bytes/,
    );
    const lying = new Uint8Array(16);
    new DataView(lying.buffer).setBigUint64(0, 2n ** 62n, true);
    expect(() => loadSafetensors(lying, { label: 'lying.safetensors' })).toThrow(/the header length 4611686018427387904 exceeds the limit of 100000000 bytes/);
  });

  it('with requireFinite, refuses NaN and ±Infinity naming the tensor, the element and the file', () => {
    for (const [value, dtype] of [
      [Number.NaN, 'F32'],
      [Number.POSITIVE_INFINITY, 'F64'],
      [Number.NEGATIVE_INFINITY, 'F32'],
    ] as const) {
      const data = dtype === 'F32' ? new Float32Array([1, 2, value, 4]) : new Float64Array([1, 2, value, 4]);
      const bytes = encodeSafetensors({ ok: { shape: [1], data: new Float32Array([0]) }, 'layer1.0.conv1.weight': { shape: [4], data } });
      expect(loadSafetensors(bytes).tensors.get('layer1.0.conv1.weight')?.data[2]).toBe(value); // the format allows it
      expect(() => loadSafetensors(bytes, { label: 'weights.safetensors', requireFinite: true })).toThrow(CorruptFileError);
      expect(() => loadSafetensors(bytes, { label: 'weights.safetensors', requireFinite: true })).toThrow(
        new RegExp(`loadSafetensors\\(\\): weights\\.safetensors must hold finite values — tensor "layer1\\.0\\.conv1\\.weight" has ${String(value).replace('+', '')} at element 2\\. The file is damaged`),
      );
    }
    // F16 infinities are decoded (0x7c00 = +Inf) and refused too.
    const half = joinSafetensors({ h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, new Uint8Array([0, 0x3c, 0, 0x7c]));
    expect(() => loadSafetensors(half, { label: 'half.safetensors', requireFinite: true })).toThrow(/tensor "h" has Infinity at element 1/);
  });
});
