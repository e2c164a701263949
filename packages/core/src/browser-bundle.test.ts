import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleForBrowser, formatMessages } from '../../backbone/test/browser-bundle';

// What a web page does: import the Detector and the heatmap from @dfm/core and let its bundler
// build for the browser, with no stubs or shims of ours.
const APP = `
import { loadDetector, renderHeatmap } from '@dfm/core';
export { loadDetector, renderHeatmap };
`;

/** The @dfm/data modules a browser bundle may hold: the sharp-free pixel arithmetic (`@dfm/data/pixels`). */
const PIXEL_MODULES = ['pixels.ts', 'resize.ts', 'normalization.ts', 'to-rgb.ts'];

describe('browser bundle of @dfm/core (esbuild, platform browser)', () => {
  it('loadDetector and renderHeatmap bundle with no error, no bare import, no Node built-in and no sharp', async () => {
    const result = await bundleForBrowser({ entry: APP, from: 'src' });
    expect(formatMessages(result.errors)).toBe('');
    expect(formatMessages(result.warnings)).toBe('');
    expect(result.externalImports).toEqual([]);
    expect(result.nodeBuiltinImports).toEqual([]);
    // esbuild names modules relative to the working folder: made absolute, they say their package.
    const modules = Object.keys(result.metafile?.inputs ?? {}).map((file) => resolve(file));
    expect(modules.some((file) => file.endsWith('core/src/detector.ts'))).toBe(true);
    expect(modules.some((file) => file.endsWith('core/src/render-heatmap.ts'))).toBe(true);
    const fromData = modules.filter((file) => file.includes('data/src/'));
    expect(fromData.map((file) => file.slice(file.lastIndexOf('/') + 1)).sort()).toEqual([...PIXEL_MODULES].sort());
    expect(modules.filter((file) => /(^|\/)(sharp|@img)\//.test(file))).toEqual([]);
    process.stdout.write(
      `[browser-bundle] @dfm/core: ${(result.code.length / 1e6).toFixed(2)} MB, ${modules.length} modules, no Node built-in, no sharp; stubbed by their packages' browser fields: ${result.stubbedBuiltins.join(', ') || 'none'}\n`,
    );
  });

  it("the check sees sharp when @dfm/data's main entry is bundled (control: it can fail)", async () => {
    const result = await bundleForBrowser({ entry: `export { decodeImagePixels } from '@dfm/data';`, from: 'src' });
    const modules = Object.keys(result.metafile?.inputs ?? {});
    const failed = result.errors.length > 0 || result.nodeBuiltinImports.length > 0 || modules.some((file) => /(^|\/)sharp\//.test(file));
    expect(failed).toBe(true);
  });
});
