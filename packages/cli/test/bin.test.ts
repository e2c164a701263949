/**
 * The command as users run it: a separate process, so exit codes and the cleanliness of stdout
 * are what a shell or CI sees. Runs the TypeScript entry point with tsx (the @dfm packages it
 * imports resolve to their dist/ builds, built here first when missing).
 */
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, fastFlags, makeFixture } from './fixtures';

const packageDir = new URL('..', import.meta.url).pathname;
const root = join(packageDir, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'dfm-bin-'));
let fx: Fixture;

function dfm(args: string[]) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/bin.ts', ...args], {
    cwd: packageDir,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 120_000,
  });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

beforeAll(async () => {
  const deps = ['linalg', 'backbone', 'core', 'data', 'lightning-like', 'serve'];
  if (deps.some((name) => !existsSync(join(root, 'packages', name, 'dist', 'index.js')))) {
    execSync('pnpm exec turbo run build --filter=@dfm/cli^... --output-logs=errors-only', { cwd: root, stdio: 'ignore', env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } });
  }
  fx = await makeFixture(work);
});

describe('the dfm process', () => {
  it('--json: stdout is exactly one JSON document, logs are on stderr, no colour with NO_COLOR', () => {
    const { code, out, err } = dfm(['test', ...fastFlags(fx, join(work, 'results')), '--json']);
    expect(code, err).toBe(0);
    const doc = JSON.parse(out);
    expect(doc.metrics.image_AUROC).toBeGreaterThan(0);
    expect(err).toMatch(/dfm test: /);
    expect(err.includes('\u001b[')).toBe(false);
  });

  it('exits 2 with one line on stderr for an unknown flag, and 0 for --version', () => {
    const bad = dfm(['train', '--frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.out).toBe('');
    expect(bad.err).toMatch(/^dfm train: error: unknown option --frobnicate\. Run 'dfm train --help' for its options\.\n$/);
    const version = dfm(['--version']);
    expect(version.code).toBe(0);
    expect(version.out).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('exits 2 for a missing model file; with --json the error is a JSON document', () => {
    const { code, out, err } = dfm(['predict', '--model', join(work, 'missing.dfm'), '--input', fx.dataset.abnormalDir, '--json']);
    expect(code).toBe(2);
    expect(JSON.parse(out).error.message).toMatch(/missing\.dfm does not exist/);
    expect(err.trimEnd().split('\n')).toHaveLength(1);
  });
});
