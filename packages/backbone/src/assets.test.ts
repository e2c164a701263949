import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findAssetsDir, findWorkspaceRoot } from './assets';

describe('findAssetsDir', () => {
  it('uses DFM_ASSETS_DIR first and checks the required files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dfm-assets-'));
    mkdirSync(join(dir, 'weights'));
    writeFileSync(join(dir, 'weights', 'w.safetensors'), 'x');
    const ok = findAssetsDir({ env: { DFM_ASSETS_DIR: dir }, require: ['weights/w.safetensors'] });
    expect(ok).toMatchObject({ dir, found: true, source: 'DFM_ASSETS_DIR', reason: '' });
    const missing = findAssetsDir({ env: { DFM_ASSETS_DIR: dir }, require: ['data/mvtec-bottle'] });
    expect(missing.found).toBe(false);
    expect(missing.reason).toMatch(/lacks data\/mvtec-bottle/);
  });

  it('falls back to ../shared/assets beside the workspace root', () => {
    const root = mkdtempSync(join(tmpdir(), 'dfm-ws-'));
    const repo = join(root, 'main');
    mkdirSync(join(repo, 'packages', 'x'), { recursive: true });
    writeFileSync(join(repo, 'pnpm-workspace.yaml'), 'packages: []\n');
    mkdirSync(join(root, 'shared', 'assets'), { recursive: true });
    expect(findWorkspaceRoot(join(repo, 'packages', 'x'))).toBe(repo);
    const location = findAssetsDir({ env: {}, from: join(repo, 'packages', 'x') });
    expect(location).toMatchObject({ dir: join(root, 'shared', 'assets'), found: true, source: 'workspace' });
  });

  it('explains a missing folder', () => {
    const location = findAssetsDir({ env: { DFM_ASSETS_DIR: '/nonexistent/dfm-assets' } });
    expect(location.found).toBe(false);
    expect(location.reason).toMatch(/does not exist\. Set DFM_ASSETS_DIR/);
  });
});
