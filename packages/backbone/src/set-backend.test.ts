import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { setBackend } from './set-backend';
import { DfmError, InvalidArgumentError } from '@dfm/errors';

/** A fake node_modules with @tensorflow/tfjs-node whose index.js writes a marker when loaded. */
function fakeNative(options: { binding: boolean; body: string }): { root: string; marker: string } {
  const root = mkdtempSync(join(tmpdir(), 'dfm-native-'));
  const dir = join(root, 'node_modules', '@tensorflow', 'tfjs-node');
  mkdirSync(join(dir, 'lib', 'napi-v8'), { recursive: true });
  const marker = join(root, 'loaded');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node', main: 'index.js' }));
  writeFileSync(join(dir, 'index.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x');\n${options.body}\n`);
  if (options.binding) writeFileSync(join(dir, 'lib', 'napi-v8', 'tfjs_binding.node'), '');
  return { root, marker };
}

describe('setBackend', () => {
  const saved = process.env.DFM_BACKEND;
  afterEach(() => {
    if (saved === undefined) delete process.env.DFM_BACKEND;
    else process.env.DFM_BACKEND = saved;
  });

  it("'auto' falls back to wasm (SIMD) here and says why", async () => {
    const result = await setBackend('auto');
    expect(result.backend).toBe('wasm');
    expect(result.reason).toMatch(
      /^auto: @tensorflow\/tfjs-node-gpu not installed; @tensorflow\/tfjs-node not installed; wasm \((SIMD|no SIMD), \d+ threads?\)$/,
    );
    expect(tf.getBackend()).toBe('wasm');
  });

  it("'tensorflow' without tfjs-node says how to install it", async () => {
    await expect(setBackend('tensorflow')).rejects.toThrow(DfmError);
    await expect(setBackend('tensorflow')).rejects.toThrow(
      /^setBackend\('tensorflow'\): needs @tensorflow\/tfjs-node or -gpu — @tensorflow\/tfjs-node-gpu not installed; @tensorflow\/tfjs-node not installed\. Install @tensorflow\/tfjs-node 4\.22 \(CPU\)/,
    );
  });

  it('skips a native package whose binding file is missing, without loading it', async () => {
    const { root, marker } = fakeNative({ binding: false, body: '' });
    const result = await setBackend('auto', { resolveFrom: root });
    expect(result.reason).toMatch(/@tensorflow\/tfjs-node installed but its binding file lib\/napi-v\*\/tfjs_binding\.node is missing/);
    expect(result.backend).toBe('wasm');
    expect(existsSync(marker)).toBe(false);
  });

  it('reports a native package that fails to load or registers on another tfjs-core', async () => {
    const throwing = fakeNative({ binding: true, body: "throw new Error('libtensorflow.so.2: cannot open shared object file');" });
    expect((await setBackend('auto', { resolveFrom: throwing.root })).reason).toMatch(
      /@tensorflow\/tfjs-node failed to load \(libtensorflow\.so\.2: cannot open shared object file\); wasm/,
    );
    const silent = fakeNative({ binding: true, body: '' });
    expect((await setBackend('auto', { resolveFrom: silent.root })).reason).toMatch(
      /@tensorflow\/tfjs-node loaded but registered its backend on another copy of @tensorflow\/tfjs-core/,
    );
  });

  it('reads DFM_BACKEND, and the cpu backend stays quiet', async () => {
    process.env.DFM_BACKEND = 'cpu';
    const warn = vi.spyOn(console, 'warn');
    expect(await setBackend()).toEqual({ backend: 'cpu', reason: 'cpu: pure JavaScript (slow: use it for tiny inputs)' });
    tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)).dataSync());
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
    expect((await setBackend('WASM')).backend).toBe('wasm');
  });

  it('refuses an unknown choice, listing the valid ones', async () => {
    await expect(setBackend('gpu')).rejects.toThrow(InvalidArgumentError);
    await expect(setBackend('gpu')).rejects.toThrow(
      /^setBackend\(\): backend must be one of auto, wasm, cpu, tensorflow — got "gpu"\. Fix the argument or DFM_BACKEND\.$/,
    );
  });
});
