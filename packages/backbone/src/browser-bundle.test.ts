import { describe, expect, it } from 'vitest';
import { bundleForBrowser, formatMessages } from '../test/browser-bundle';

// What an app does: import the package, tfjs-core and onnxruntime-web, and let its bundler build
// for the browser. Everything is re-exported so that nothing is tree-shaken before the check.
const APP = `
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web';
import * as backbone from '@dfm/backbone';
export { tf, ort, backbone };
`;

describe('browser bundle (esbuild, platform browser)', () => {
  it('an app importing @dfm/backbone, tfjs-core and onnxruntime-web bundles with no Node built-in left', async () => {
    const result = await bundleForBrowser({ entry: APP, from: 'src' });
    expect(formatMessages(result.errors)).toBe('');
    expect(formatMessages(result.warnings)).toBe('');
    expect(result.externalImports).toEqual([]);
    expect(result.nodeBuiltinImports).toEqual([]);
    const modules = Object.keys(result.metafile?.inputs ?? {});
    expect(modules).toContain('src/create-backbone.ts');
    expect(modules.some((file) => file.includes('onnxruntime-web/dist/ort.bundle.min.mjs'))).toBe(true);
    process.stdout.write(
      `[browser-bundle] ${(result.code.length / 1e6).toFixed(2)} MB, ${modules.length} modules, no Node built-in imported; stubbed by their packages' browser fields: ${result.stubbedBuiltins.join(', ')}\n`,
    );
  });

  it('the check fails on a Node built-in (control: it can fail)', async () => {
    const result = await bundleForBrowser({
      entry: `import { createBackbone } from '@dfm/backbone';\nimport { readFileSync } from 'node:fs';\nexport { createBackbone, readFileSync };`,
      from: 'src',
    });
    expect(formatMessages(result.errors)).toMatch(/Could not resolve "node:fs"/);
  });
});
