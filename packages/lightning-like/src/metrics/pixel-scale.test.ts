import { describe, expect, it } from 'vitest';
import { aupro } from './aupro';
import { auroc } from './auroc';
import { f1AdaptiveThreshold } from './f1-adaptive-threshold';

// A sanity run at pixel scale (~10M pixels: 150 maps of 256×256). No time is asserted; the time is
// printed (speed is measured in benchmarks, not tests).
describe('pixel-scale metrics', () => {
  it('aupro, pixel auroc and the pixel F1 threshold run on ~10M pixels', () => {
    const count = 150;
    const side = 256;
    const size = side * side;
    const maps = new Float32Array(count * size);
    const masks = new Uint8Array(count * size);
    let state = 12345;
    const random = () => {
      state = (state * 1664525 + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
    for (let image = 0; image < count; image++) {
      const offset = image * size;
      for (let i = 0; i < size; i++) maps[offset + i] = random();
      if (image % 3 === 0) continue;
      const top = Math.floor(random() * 200);
      const left = Math.floor(random() * 200);
      const extent = 8 + Math.floor(random() * 48);
      for (let y = top; y < top + extent; y++) {
        for (let x = left; x < left + extent; x++) {
          masks[offset + y * side + x] = 1;
          maps[offset + y * side + x] = 0.3 + 0.7 * random();
        }
      }
    }
    const start = performance.now();
    const pro = aupro(maps, masks, { height: side, width: side });
    const afterAupro = performance.now();
    const area = auroc(maps, masks);
    const afterAuroc = performance.now();
    const { threshold } = f1AdaptiveThreshold(maps, masks);
    const end = performance.now();
    // biome-ignore lint/suspicious/noConsole: the test reports its timing.
    console.log(
      `${maps.length} pixels: aupro ${(afterAupro - start).toFixed(0)} ms, auroc ${(afterAuroc - afterAupro).toFixed(0)} ms, ` +
        `f1AdaptiveThreshold ${(end - afterAuroc).toFixed(0)} ms (aupro ${pro.toFixed(4)}, auroc ${area.toFixed(4)}, threshold ${threshold.toFixed(4)})`,
    );
    expect(pro).toBeGreaterThan(0);
    expect(pro).toBeLessThanOrEqual(1);
    expect(area).toBeGreaterThan(0.5);
  });
});
