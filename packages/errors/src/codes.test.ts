import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The codes are the API callers branch on: each one thrown anywhere must be documented.
const root = fileURLToPath(new URL('../../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.ts$/.test(name) && !/\.test\.ts$/.test(name) ? [path] : [];
  });
}

describe('error codes', () => {
  it('every code used in a package source is in the table of docs/errors.md, and the table has no stale code', () => {
    const used = new Set<string>();
    for (const pkg of readdirSync(join(root, 'packages'))) {
      const src = join(root, 'packages', pkg, 'src');
      for (const file of statSync(src, { throwIfNoEntry: false })?.isDirectory() ? sources(src) : []) {
        for (const match of readFileSync(file, 'utf8').matchAll(/'(E_[A-Z0-9_]+)'/g)) used.add(match[1]!);
      }
    }
    used.delete('E_SOME_CODE'); // the placeholder in DfmError's own message
    const table = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
    const documented = new Set([...table.matchAll(/^\| `(E_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]!));
    expect([...used].filter((code) => !documented.has(code)).sort()).toEqual([]);
    expect([...documented].filter((code) => !used.has(code)).sort()).toEqual([]);
  });
});
