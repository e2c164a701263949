import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandHelp, DOCS_URL, docsLocation, usage } from './help';
import { COMMANDS } from './options';

const repositoryDocs = new URL('../../../docs/cli.md', import.meta.url).pathname;

describe('where the help says the docs are', () => {
  it('the docs shipped in the npm package (<package root>/docs/cli.md) come first', () => {
    const root = mkdtempSync(join(tmpdir(), 'dfm-help-'));
    mkdirSync(join(root, 'node_modules', '@dfm', 'cli', 'dist'), { recursive: true });
    mkdirSync(join(root, 'node_modules', '@dfm', 'cli', 'docs'));
    writeFileSync(join(root, 'node_modules', '@dfm', 'cli', 'docs', 'cli.md'), '# CLI reference');
    expect(docsLocation(join(root, 'node_modules', '@dfm', 'cli', 'dist'))).toBe(join(root, 'node_modules', '@dfm', 'cli', 'docs', 'cli.md'));
  });

  it("then the repository's docs/cli.md in a checkout, else the URL", () => {
    const checkout = mkdtempSync(join(tmpdir(), 'dfm-help-checkout-'));
    mkdirSync(join(checkout, 'packages', 'cli', 'dist'), { recursive: true });
    mkdirSync(join(checkout, 'docs'));
    writeFileSync(join(checkout, 'docs', 'cli.md'), '# CLI reference');
    writeFileSync(join(checkout, 'pnpm-workspace.yaml'), 'packages: [packages/*]\n');
    expect(docsLocation(join(checkout, 'packages', 'cli', 'dist'))).toBe(join(checkout, 'docs', 'cli.md'));
    const installed = mkdtempSync(join(tmpdir(), 'dfm-help-npm-'));
    mkdirSync(join(installed, 'node_modules', '@dfm', 'cli', 'dist'), { recursive: true });
    expect(docsLocation(join(installed, 'node_modules', '@dfm', 'cli', 'dist'))).toBe('https://github.com/dfm-ts/dfm/blob/main/docs/cli.md');
    expect(DOCS_URL).toBe('https://github.com/dfm-ts/dfm/blob/main/docs/cli.md');
  });

  it('dfm --help and every command help print a docs location that resolves (here: the checkout)', () => {
    const location = docsLocation();
    expect([repositoryDocs, new URL('../docs/cli.md', import.meta.url).pathname]).toContain(location);
    expect(usage()).toContain(`\nDocs: ${location}\n`);
    for (const command of COMMANDS) expect(commandHelp(command)).toMatch(new RegExp(`\\nDocs: ${location.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`));
  });

  it('lists --runtime, --test-split-mode, --overwrite and the --pca-level text; hides the deprecated --engine', () => {
    const train = commandHelp('train');
    expect(train).toContain('--runtime auto|tfjs|onnxruntime');
    expect(train).toContain('--test-split-mode from_dir|synthetic|none');
    expect(train).toContain('--overwrite');
    expect(train).toContain('PCA: a variance ratio in (0, 1), or an integer component count ≥ 1 (1 = one component)');
    expect(train).not.toMatch(/--engine\b/);
    expect(commandHelp('predict')).toMatch(/--overwrite\s+predict: write over the predictions of an earlier run in --output/);
    expect(commandHelp('bench')).toContain('--runtimes');
    expect(commandHelp('bench')).not.toMatch(/--engines\b/);
  });
});
