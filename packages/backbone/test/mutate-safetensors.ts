/**
 * Test helper: mutation fuzzing of safetensors-based files (weights and `.dfm` models). Byte-level
 * mutations (bit flips, truncation, header-length edits, garbage) and structure-aware ones (JSON
 * edits that declare huge shapes or offsets, swap dtypes, drop or duplicate tensors, rewrite or
 * bloat metadata values). Deterministic for a given random stream (e.g. `RandomStream` from `src/random`).
 *
 * Also used by `@dfm/core`'s `.dfm` fuzz test (imported by relative path, like other test helpers).
 */

/** The random source the mutator draws from (`RandomStream` fits). */
export interface FuzzRandom {
  nextUint32(): number;
}

/** Number of fuzz inputs: `DFM_NIGHTLY=1` runs the nightly size, else the default; says which. */
export function fuzzCount(defaultCount: number, nightlyCount: number, what: string): number {
  const nightly = process.env.DFM_NIGHTLY === '1';
  if (!nightly) {
    process.stdout.write(`[fuzz] ${what}: ${defaultCount} inputs (reduced; DFM_NIGHTLY=1 runs ${nightlyCount})\n`);
  }
  return nightly ? nightlyCount : defaultCount;
}

/** Splits a safetensors file into its parsed header and data section (the input must be valid). */
export function splitSafetensors(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, unknown>;
  return { header, data: bytes.subarray(8 + length) };
}

/** Builds a file from a header (object or raw text) and a data section, without any check. */
export function joinSafetensors(header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): Uint8Array {
  const text = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

/** The mutation kinds, for the printed tally. */
export const MUTATION_KINDS = [
  'bit-flip',
  'header-bit-flip',
  'truncate',
  'header-length',
  'json-character',
  'insert-garbage',
  'huge-shape',
  'bad-offsets',
  'dtype-swap',
  'drop-or-duplicate-tensor',
  'metadata-value',
  'deep-nesting',
] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

const HUGE_NUMBERS = [2 ** 31, 2 ** 32 + 4, 2 ** 53 - 1, 2 ** 53 + 2, 1e15, 1e300, -1, 0, 1.5, 7];
const DTYPES = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'F8', 'X', '', 32];
const JSON_FRAGMENTS = [
  'null',
  '{}',
  '[]',
  '"x"',
  '1e999',
  'NaN',
  '{"$tensor":"pca.mean"}',
  '{"$tensor":"nope"}',
  '[1,2',
  '{"nFeatures":-1}',
  '{"k":1e9,"nFeatures":1e9}',
  '"\\u0000"',
];

/**
 * One mutant of `base` (a valid safetensors file). `metadataKeys` lists the `__metadata__` keys
 * worth rewriting (JSON values for `.dfm` files).
 */
export function mutateSafetensors(base: Uint8Array, random: FuzzRandom): { kind: MutationKind; bytes: Uint8Array } {
  const pick = (n: number) => random.nextUint32() % n;
  const kind = MUTATION_KINDS[pick(MUTATION_KINDS.length)] as MutationKind;
  const view = new DataView(base.buffer, base.byteOffset, base.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  let bytes: Uint8Array = base.slice();
  const structured = (edit: (header: Record<string, unknown>, names: string[]) => void): Uint8Array => {
    const { header, data } = splitSafetensors(base);
    const names = Object.keys(header).filter((name) => name !== '__metadata__');
    edit(header, names);
    return joinSafetensors(header, data);
  };
  switch (kind) {
    case 'bit-flip':
      for (let k = 1 + pick(4); k > 0; k--) {
        const i = pick(bytes.length);
        bytes[i] = (bytes[i] as number) ^ (1 << pick(8));
      }
      break;
    case 'header-bit-flip':
      for (let k = 1 + pick(3); k > 0; k--) {
        const i = 8 + pick(headerLength);
        bytes[i] = (bytes[i] as number) ^ (1 << pick(8));
      }
      break;
    case 'truncate':
      bytes = bytes.slice(0, pick(bytes.length));
      break;
    case 'header-length': {
      const choices = [
        BigInt(Math.max(0, headerLength + pick(64) - 32)),
        BigInt(random.nextUint32()) << BigInt(pick(32)),
        0n,
        BigInt(base.length),
        0xffffffffffffffffn,
      ];
      new DataView(bytes.buffer).setBigUint64(0, choices[pick(choices.length)] as bigint, true);
      break;
    }
    case 'json-character':
      bytes[8 + pick(headerLength)] = '{}[],:"0123456789-e.\\'.charCodeAt(pick(21));
      break;
    case 'insert-garbage': {
      const extra = new Uint8Array(1 + pick(16)).map(() => pick(256));
      const at = pick(bytes.length);
      const out = new Uint8Array(bytes.length + extra.length);
      out.set(bytes.subarray(0, at));
      out.set(extra, at);
      out.set(bytes.subarray(at), at + extra.length);
      bytes = out;
      break;
    }
    case 'huge-shape':
      bytes = structured((header, names) => {
        const entry = header[names[pick(names.length)] as string] as { shape: number[] };
        const huge = HUGE_NUMBERS[pick(HUGE_NUMBERS.length)] as number;
        entry.shape = pick(2) === 0 ? [huge, huge] : [huge];
        if (pick(3) === 0) entry.shape = Array.from({ length: 1000 }, () => 2);
      });
      break;
    case 'bad-offsets':
      bytes = structured((header, names) => {
        const entry = header[names[pick(names.length)] as string] as { data_offsets: unknown };
        const huge = HUGE_NUMBERS[pick(HUGE_NUMBERS.length)] as number;
        const choices: unknown[] = [[0, huge], [huge, huge + 4], [8, 4], [0], 'x', null, [-4, 0], [0, base.length * 4]];
        entry.data_offsets = choices[pick(choices.length)];
      });
      break;
    case 'dtype-swap':
      bytes = structured((header, names) => {
        (header[names[pick(names.length)] as string] as { dtype: unknown }).dtype = DTYPES[pick(DTYPES.length)];
      });
      break;
    case 'drop-or-duplicate-tensor':
      bytes = structured((header, names) => {
        const name = names[pick(names.length)] as string;
        if (pick(2) === 0) delete header[name];
        else header[`${name}.copy`] = { ...(header[name] as object) };
      });
      break;
    case 'metadata-value':
      bytes = structured((header) => {
        const metadata = header.__metadata__ as Record<string, unknown> | undefined;
        if (metadata === undefined) {
          header.__metadata__ = JSON_FRAGMENTS[pick(JSON_FRAGMENTS.length)];
          return;
        }
        const keys = Object.keys(metadata);
        const key = keys[pick(keys.length)] as string;
        const value = metadata[key];
        const choices: unknown[] = [
          JSON_FRAGMENTS[pick(JSON_FRAGMENTS.length)],
          typeof value === 'string' ? value.slice(0, pick(value.length + 1)) : 'x',
          typeof value === 'string' ? value.replace(/\d+/, String(HUGE_NUMBERS[pick(HUGE_NUMBERS.length)])) : 'x',
          typeof value === 'string' ? value.replace(/"[a-z_A-Z]+":/, '"unexpected":') : 'x',
          12,
          null,
          'x'.repeat(100_000),
        ];
        metadata[key] = choices[pick(choices.length)];
      });
      break;
    case 'deep-nesting':
      bytes = structured((header) => {
        const depth = 10_000 + pick(90_000);
        const metadata = (header.__metadata__ ?? {}) as Record<string, unknown>;
        const keys = Object.keys(metadata);
        const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
        if (keys.length > 0 && pick(2) === 0) metadata[keys[pick(keys.length)] as string] = nested;
        else header.deep = JSON.parse(`{"a":${'{"a":'.repeat(200)}1${'}'.repeat(200)}}`);
      });
      break;
  }
  return { kind, bytes };
}

/** Per-input timing and outcome tally printed by the fuzz tests. */
export class FuzzTally {
  tried = 0;
  rejected = 0;
  accepted = 0;
  crashes = 0;
  hangs = 0;
  maxMs = 0;
  readonly byKind = new Map<string, number>();
  readonly failures: string[] = [];

  constructor(
    readonly what: string,
    /** An input slower than this counts as a hang (a bound on work, not a speed claim). */
    readonly hangMs = 2000,
  ) {}

  /** Times `run`; `run` returns 'rejected' or 'accepted', or throws for a crash (an unexpected error). */
  record(kind: string, label: string, run: () => 'rejected' | 'accepted'): void {
    this.tried++;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
    const start = performance.now();
    try {
      if (run() === 'rejected') this.rejected++;
      else this.accepted++;
    } catch (error) {
      this.crashes++;
      if (this.failures.length < 5) this.failures.push(`${label} (${kind}): ${(error as Error).stack ?? String(error)}`);
    }
    const ms = performance.now() - start;
    this.maxMs = Math.max(this.maxMs, ms);
    if (ms > this.hangMs) this.hangs++;
  }

  /** The one-line summary the acceptance criteria ask for. */
  summary(extra = ''): string {
    return `[fuzz] ${this.what}: ${this.tried} inputs tried, ${this.rejected} rejected with a typed error, ${this.accepted} accepted, crashes ${this.crashes}, hangs ${this.hangs} (> ${this.hangMs} ms), max ${this.maxMs.toFixed(1)} ms per input${extra}`;
  }
}
