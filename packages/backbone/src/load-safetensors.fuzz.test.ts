import { CorruptFileError } from '@dfm/linalg';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors } from './encode-safetensors';
import { loadSafetensors } from './load-safetensors';
import { RandomStream } from './random';

/**
 * Mutation fuzzing: every mutated file either loads (its tensors then fit their shapes) or throws
 * CorruptFileError — never another error, never a crash or a hang.
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
  const headerLength = Number(new DataView(base.buffer).getBigUint64(0, true));

  function mutate(random: RandomStream): Uint8Array {
    const kind = random.nextUint32() % 6;
    const pick = (n: number) => random.nextUint32() % n;
    let bytes = base.slice();
    switch (kind) {
      case 0: // flip 1-4 bits anywhere
        for (let k = 1 + pick(4); k > 0; k--) {
          const i = pick(bytes.length);
          bytes[i] = (bytes[i] as number) ^ (1 << pick(8));
        }
        break;
      case 1: // flip bits in the header (most likely to matter)
        for (let k = 1 + pick(3); k > 0; k--) {
          const i = 8 + pick(headerLength);
          bytes[i] = (bytes[i] as number) ^ (1 << pick(8));
        }
        break;
      case 2: // truncate
        bytes = bytes.slice(0, pick(bytes.length));
        break;
      case 3: // corrupt the header length (small change or huge value)
        new DataView(bytes.buffer).setBigUint64(
          0,
          random.nextUint32() % 2 === 0 ? BigInt(headerLength + pick(64) - 32) : BigInt(random.nextUint32()) << BigInt(pick(32)),
          true,
        );
        break;
      case 4: // overwrite a byte of the header with a JSON-significant character
        bytes[8 + pick(headerLength)] = '{}[],:"0123456789-e.'.charCodeAt(pick(20));
        break;
      default: {
        // append or insert garbage
        const extra = new Uint8Array(1 + pick(16)).map(() => pick(256));
        const at = pick(bytes.length);
        const out = new Uint8Array(bytes.length + extra.length);
        out.set(bytes.subarray(0, at));
        out.set(extra, at);
        out.set(bytes.subarray(at), at + extra.length);
        bytes = out;
      }
    }
    return bytes;
  }

  it('handles 2,000 mutated files with CorruptFileError or a consistent result', () => {
    const random = new RandomStream(2024, 'fuzz');
    let rejected = 0;
    let loaded = 0;
    for (let n = 0; n < 2000; n++) {
      const bytes = mutate(random);
      try {
        const { tensors } = loadSafetensors(bytes, { label: `mutant-${n}` });
        for (const tensor of tensors.values()) {
          expect(tensor.data.length).toBe(tensor.shape.reduce((a, d) => a * d, 1));
        }
        loaded++;
      } catch (error) {
        if (!(error instanceof CorruptFileError)) {
          throw new Error(`mutant ${n} threw ${(error as Error).name}: ${(error as Error).message}`);
        }
        expect((error as CorruptFileError).message).toMatch(new RegExp(`^loadSafetensors\\(\\): mutant-${n} is not a valid safetensors file — `));
        rejected++;
      }
    }
    process.stdout.write(`[fuzz] 2000 mutated files: ${rejected} rejected with CorruptFileError, ${loaded} loaded consistently\n`);
    expect(rejected + loaded).toBe(2000);
    expect(rejected).toBeGreaterThan(1000);
  });
});
