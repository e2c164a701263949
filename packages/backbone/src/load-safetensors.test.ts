import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES_DIR } from '../test/fixture-comparison';
import { encodeSafetensors } from './encode-safetensors';
import { joinSafetensors as rawFile } from '../test/mutate-safetensors';
import { halfToFloat, loadSafetensors } from './load-safetensors';
import { CorruptFileError, InvalidArgumentError } from '@dfm/errors';


function corrupt(bytes: Uint8Array): CorruptFileError {
  try {
    loadSafetensors(bytes, { label: 'bad.safetensors' });
  } catch (error) {
    expect(error).toBeInstanceOf(CorruptFileError);
    expect((error as CorruptFileError).file).toBe('bad.safetensors');
    return error as CorruptFileError;
  }
  throw new Error('expected a CorruptFileError');
}

const good = encodeSafetensors({
  w: { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
  b: { shape: [2], data: new Float32Array([5, 6]) },
});

describe('loadSafetensors', () => {
  it('reads a file written by the Python fixture script (an independent writer)', () => {
    const { tensors, metadata } = loadSafetensors(`${FIXTURES_DIR}resnet18-imagenet-64.safetensors`);
    expect(metadata?.script).toBe('packages/backbone/scripts/make_fixtures.py');
    expect(tensors.get('layer3.channel_sum')?.shape).toEqual([2, 256]);
  });

  it('reads a path and names it in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dfm-st-'));
    const path = join(dir, 'm.safetensors');
    writeFileSync(path, good);
    expect(loadSafetensors(path).tensors.get('b')?.data).toEqual(new Float32Array([5, 6]));
    writeFileSync(path, good.subarray(0, good.length - 3));
    expect(() => loadSafetensors(path)).toThrow(
      new RegExp(`^loadSafetensors\\(\\): ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a valid safetensors file — `),
    );
    expect(() => loadSafetensors(join(dir, 'none.safetensors'))).toThrow(InvalidArgumentError);
  });

  it('widens F16 and BF16 to float32 and converts integers', () => {
    const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00, 0x8000]).buffer);
    const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc040, 0x4049]).buffer);
    const i64 = new Uint8Array(new BigInt64Array([-3n, 5n]).buffer);
    const data = new Uint8Array([...f16, ...bf16, ...i64]);
    const file = rawFile(
      {
        h: { dtype: 'F16', shape: [6], data_offsets: [0, 12] },
        bf: { dtype: 'BF16', shape: [3], data_offsets: [12, 18] },
        n: { dtype: 'I64', shape: [2], data_offsets: [18, 34] },
      },
      data,
    );
    const { tensors } = loadSafetensors(file);
    expect(Array.from(tensors.get('h')?.data ?? [])).toEqual([
      1,
      -2,
      Math.fround(halfToFloat(0x3555)),
      Math.fround(2 ** -24),
      Number.POSITIVE_INFINITY,
      -0,
    ]);
    expect(halfToFloat(0x3555)).toBeCloseTo(1 / 3, 3);
    expect(Array.from(tensors.get('bf')?.data ?? [])).toEqual([1, -3, 3.140625]);
    expect(Array.from(tensors.get('n')?.data ?? [])).toEqual([-3, 5]);
  });

  it('rejects a truncated file', () => {
    expect(corrupt(good.subarray(0, 5)).message).toMatch(/has 5 bytes, fewer than the 8-byte header length/);
    expect(corrupt(good.subarray(0, 20)).message).toMatch(/runs past the end of the file \(20 bytes\): truncated/);
    expect(corrupt(good.subarray(0, good.length - 1)).message).toMatch(
      /tensor "b" ends at byte 24 of a data section of 23 bytes: truncated/,
    );
  });

  it('rejects an oversized header length without allocating it', () => {
    const bytes = good.slice();
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 62n, true);
    expect(corrupt(bytes).message).toMatch(/the header length 4611686018427387904 exceeds the limit of 100000000 bytes/);
  });

  it('rejects a bit flip in the header', () => {
    const bytes = good.slice();
    bytes[9] = (bytes[9] as number) ^ 0x40; // '"' → 'b'
    expect(corrupt(bytes).message).toMatch(/its header is not UTF-8 JSON/);
  });

  it('rejects bad dtypes, shapes, offsets, holes, overlaps and sizes, naming the tensor', () => {
    const data = new Uint8Array(16);
    const cases: [unknown, RegExp][] = [
      [[1, 2], /its header is not a JSON object/],
      [{ t: { dtype: 'F8', shape: [4], data_offsets: [0, 16] } }, /tensor "t" has dtype "F8", not one of F64, F32/],
      [{ t: { dtype: 'F32', shape: [-4], data_offsets: [0, 16] } }, /tensor "t" has shape \[-4\]/],
      [{ t: { dtype: 'F32', shape: [4], data_offsets: [8, 0] } }, /tensor "t" has data_offsets \[8,0\]/],
      [{ t: { dtype: 'F32', shape: [5], data_offsets: [0, 20] } }, /tensor "t" ends at byte 20 of a data section of 16/],
      [{ t: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, /tensor "t" \(F32 \[3\]\) needs 12 bytes but data_offsets give 16/],
      [{ t: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, /there is a hole in the data before tensor "t" \(bytes 0\.\.8\)/],
      [
        { t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, u: { dtype: 'F32', shape: [1], data_offsets: [12, 16] } },
        /tensor "u" overlaps the previous tensor/,
      ],
      [{ t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, /the tensors cover 8 bytes but the data section has 16/],
      [{ __metadata__: { a: 1 } }, /__metadata__\.a is not a string/],
      [{ t: 'x' }, /tensor "t" is not an object/],
    ];
    for (const [header, pattern] of cases) expect(corrupt(rawFile(header, data)).message).toMatch(pattern);
  });

  it('accepts a header padded with spaces', () => {
    const text = `${JSON.stringify({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } })}      `;
    expect(loadSafetensors(rawFile(null, new Uint8Array(4), text)).tensors.get('t')?.shape).toEqual([1]);
  });
});
