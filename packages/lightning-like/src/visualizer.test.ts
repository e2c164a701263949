import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Batch } from '@dfm/data';
import { describe, expect, it } from 'vitest';
import { heatmapName, Visualizer } from './visualizer';

const MEAN = [0.485, 0.456, 0.406] as const;
const STD = [0.229, 0.224, 0.225] as const;

function oneImageBatch(path: string, h = 4, w = 4): Batch {
  return {
    images: new Float32Array(h * w * 3).fill(0.5),
    normalization: null,
    masks: null,
    samples: [{ path, label: 0, defectType: 'good', maskPath: null }],
    batchSize: 1,
    height: h,
    width: w,
  };
}

describe('Visualizer', () => {
  it('names a heatmap after the whole input file name: a.jpg and a.png in one folder give a.jpg.png and a.png.png', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dfm-vis-names-'));
    try {
      const anomalyMap = Float32Array.from({ length: 16 }, (_, i) => i / 16);
      const visualizer = new Visualizer();
      const written: string[] = [];
      for (const path of ['/in/a.jpg', '/in/a.png', '/in/a.JPEG']) {
        written.push(...(await visualizer.visualizeBatch({ batch: oneImageBatch(path), output: { predScore: Float32Array.of(1), anomalyMap }, processed: null, outputDir: dir })));
      }
      expect(written).toEqual([join(dir, 'good', 'a.jpg.png'), join(dir, 'good', 'a.png.png'), join(dir, 'good', 'a.JPEG.png')]);
      expect(readdirSync(join(dir, 'good')).sort()).toEqual(['a.JPEG.png', 'a.jpg.png', 'a.png.png']);
      expect(heatmapName('/x/y/part 1.tiff')).toBe('part 1.tiff.png');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('draws a batch the loader normalised exactly as the same batch in [0, 1]', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dfm-vis-'));
    try {
      const [h, w] = [8, 8];
      const plain = Float32Array.from({ length: h * w * 3 }, (_, i) => ((i * 37) % 256) / 255);
      const normalized = plain.map((v, i) => (v - MEAN[i % 3]!) / STD[i % 3]!);
      const anomalyMap = Float32Array.from({ length: h * w }, (_, i) => i / (h * w));
      const write = async (images: Float32Array, normalization: Batch['normalization'], sub: string) => {
        const batch: Batch = {
          images,
          normalization,
          masks: null,
          samples: [{ path: `/x/${sub}.png`, label: 0, defectType: 'good', maskPath: null }],
          batchSize: 1,
          height: h,
          width: w,
        };
        const [file] = await new Visualizer().visualizeBatch({ batch, output: { predScore: Float32Array.of(1), anomalyMap }, processed: null, outputDir: dir });
        return readFileSync(file as string);
      };
      const a = await write(plain, null, 'a');
      const b = await write(normalized, { mean: [...MEAN], std: [...STD] }, 'b');
      expect(b.equals(a)).toBe(true);
      // and not by accident: drawing the normalised values as if in [0, 1] gives another picture
      expect((await write(normalized, null, 'c')).equals(a)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
