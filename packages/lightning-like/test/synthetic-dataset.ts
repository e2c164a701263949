/**
 * A small synthetic inspection dataset written as PNG files: normal images are smooth stripes with
 * mild noise; anomalous ones add a bright blob, with its mask. Deterministic from a seed.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRng } from '../../data/src/random';
import { Folder } from '@dfm/data';
import sharp from 'sharp';

export interface SyntheticDataset {
  root: string;
  normalDir: string;
  normalTestDir: string;
  abnormalDir: string;
  maskDir: string;
}

async function writeImage(path: string, size: number, random: () => number, blob: { x: number; y: number; r: number } | null): Promise<Uint8Array> {
  const pixels = Buffer.alloc(size * size * 3);
  const mask = new Uint8Array(size * size);
  const phase = random() * 0.6;
  for (let y = 0; y < size; y += 1) {
    for (let x = 0; x < size; x += 1) {
      const base = 0.5 + 0.3 * Math.sin((x + y * 0.5) / 5 + phase);
      let value = base + (random() - 0.5) * 0.06;
      if (blob && (x - blob.x) ** 2 + (y - blob.y) ** 2 <= blob.r ** 2) {
        value = 1;
        mask[y * size + x] = 255;
      }
      const v = Math.max(0, Math.min(255, Math.round(value * 255)));
      pixels[(y * size + x) * 3] = v;
      pixels[(y * size + x) * 3 + 1] = Math.round(v * 0.8);
      pixels[(y * size + x) * 3 + 2] = Math.round(v * 0.6);
    }
  }
  await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toFile(path);
  return mask;
}

/** Writes `nTrain` normal training images, `nTestNormal` normal and `nTestAnomalous` anomalous test images (with masks). */
export async function makeSyntheticDataset(
  root: string,
  { nTrain = 24, nTestNormal = 8, nTestAnomalous = 8, size = 64, seed = 1 } = {},
): Promise<SyntheticDataset> {
  const random = createRng(seed, 'synthetic-dataset');
  const dirs = {
    root,
    normalDir: join(root, 'train', 'good'),
    normalTestDir: join(root, 'test', 'good'),
    abnormalDir: join(root, 'test', 'blob'),
    maskDir: join(root, 'ground_truth', 'blob'),
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  const name = (i: number) => `${String(i).padStart(3, '0')}.png`;
  for (let i = 0; i < nTrain; i += 1) await writeImage(join(dirs.normalDir, name(i)), size, random, null);
  for (let i = 0; i < nTestNormal; i += 1) await writeImage(join(dirs.normalTestDir, name(i)), size, random, null);
  for (let i = 0; i < nTestAnomalous; i += 1) {
    const r = 5 + Math.floor(random() * 6);
    const blob = { x: r + Math.floor(random() * (size - 2 * r)), y: r + Math.floor(random() * (size - 2 * r)), r };
    const mask = await writeImage(join(dirs.abnormalDir, name(i)), size, random, blob);
    await sharp(Buffer.from(mask), { raw: { width: size, height: size, channels: 1 } })
      .png()
      .toFile(join(dirs.maskDir, name(i).replace('.png', '_mask.png')));
  }
  return dirs;
}

/** The tests' Folder over a synthetic dataset: validation from half the test split (seeded), named 'blobs'. */
export function syntheticFolder(data: SyntheticDataset, extra: Partial<ConstructorParameters<typeof Folder>[0]> = {}): Folder {
  return new Folder({
    normalDir: data.normalDir,
    normalTestDir: data.normalTestDir,
    abnormalDir: data.abnormalDir,
    maskDir: data.maskDir,
    name: 'blobs',
    valSplitMode: 'from_test',
    valSplitRatio: 0.5,
    seed: 5,
    ...extra,
  });
}
