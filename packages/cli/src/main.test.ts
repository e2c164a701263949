import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { main } from './main';

vi.mock('./bench/run-bench', () => ({
  runBench: async () => {
    throw new TypeError("Cannot read properties of undefined (reading 'x')");
  },
}));
import { VERSION } from './version';

function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

describe('dfm main', () => {
  it('prints the version', async () => {
    const out = sink();
    expect(await main(['--version'], out.stream)).toBe(0);
    expect(out.text()).toBe(`${VERSION}\n`);
  });

  it('exits 2 with a one-line message on an unknown command', async () => {
    const out = sink();
    const err = sink();
    expect(await main(['frobnicate'], out.stream, err.stream)).toBe(2);
    expect(out.text()).toBe('');
    expect(err.text()).toMatch(/^dfm: error: 'frobnicate' is not a command\. .*\n$/);
    expect(err.text().split('\n')).toHaveLength(2);
  });

  it('exits 1 on an internal error with a short message, and shows the stack with --verbose', async () => {
    // A stand-in assets folder: the benchmark (mocked above to fail unexpectedly) checks it first.
    const assets = mkdtempSync(join(tmpdir(), 'dfm-main-'));
    mkdirSync(join(assets, 'weights'));
    mkdirSync(join(assets, 'data', 'mvtec-bottle'), { recursive: true });
    writeFileSync(join(assets, 'weights', 'resnet18-imagenet-layer1-3.safetensors'), '');
    const err = sink();
    expect(await main(['bench', '--assets-dir', assets], sink().stream, err.stream)).toBe(1);
    expect(err.text()).toBe("dfm: internal error: Cannot read properties of undefined (reading 'x') (rerun with --verbose for the stack trace)\n");
    const verbose = sink();
    expect(await main(['bench', '--assets-dir', assets, '--verbose'], sink().stream, verbose.stream)).toBe(1);
    expect(verbose.text()).toMatch(/\n\s+at /);
  });

  it('dfm bench without the assets is a user error (exit 2)', async () => {
    const err = sink();
    expect(await main(['bench', '--assets-dir', mkdtempSync(join(tmpdir(), 'dfm-empty-'))], sink().stream, err.stream)).toBe(2);
    expect(err.text()).toMatch(/^dfm bench: error: --assets-dir .* lacks weights\/resnet18-imagenet-layer1-3\.safetensors, data\/mvtec-bottle\./);
  });

  it('prints help for each command', async () => {
    for (const command of ['train', 'test', 'predict', 'export', 'bench', 'demo']) {
      const out = sink();
      expect(await main([command, '--help'], out.stream)).toBe(0);
      expect(out.text()).toMatch(new RegExp(`^dfm ${command}`));
    }
  });

  it('the demo says how to get the data and weights when the assets are absent, and exits 0', async () => {
    const out = sink();
    expect(await main(['demo'], out.stream, sink().stream, { DFM_ASSETS_DIR: '/nonexistent/assets' })).toBe(0);
    expect(out.text()).toMatch(/development assets are not available/);
    expect(out.text()).toMatch(/mvtec\.com/);
    expect(out.text()).toMatch(/--weights imagenet downloads/);
  });
});
