/**
 * Acceptance: decoding memory stays bounded. 2,000 bottle images (symlinks repeating the 292
 * images of data/mvtec-bottle) are streamed at 256 px, batch 16, prefetch 2; the peak RSS of
 * this test process must stay under 1.5 GiB. Numbers are printed for the record.
 */
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { batches } from './batches';
import { describeWithAssets } from '@dfm/backbone/testing';
import { Folder } from './folder';
import { MVTecAD } from './mvtec-ad';
import { tempDir } from './test-images';

const COUNT = 2000;
const MiB = 1024 * 1024;

describeWithAssets('bounded decoding memory (2,000 images)', ['data/mvtec-bottle'], (asset) => {
  it('keeps peak RSS under 1.5 GiB', async () => {
    const bottle = new MVTecAD({ root: asset('data'), category: 'mvtec-bottle' });
    const sources = [...bottle.train, ...bottle.test].map((s) => s.path);
    const { dir, cleanup } = tempDir('dfm-memory-');
    try {
      const links = join(dir, 'links');
      mkdirSync(links);
      for (let i = 0; i < COUNT; i++) symlinkSync(sources[i % sources.length]!, join(links, `${String(i).padStart(4, '0')}.png`));
      const data = new Folder({ normalDir: links, testSplitMode: 'none', valSplitMode: 'none' });
      expect(data.train).toHaveLength(COUNT);

      const start = Date.now();
      const rssBefore = process.memoryUsage().rss;
      let peakSampled = rssBefore;
      let images = 0;
      let checksum = 0;
      for await (const batch of batches(data.train, { batchSize: 16, imageSize: 256, prefetch: 2 })) {
        images += batch.batchSize;
        checksum += batch.images[0]!;
        peakSampled = Math.max(peakSampled, process.memoryUsage().rss);
      }
      const seconds = (Date.now() - start) / 1000;
      const maxRss = process.resourceUsage().maxRSS * 1024; // maxRSS is in KiB
      process.stdout.write(
        `[memory] ${images} images in ${seconds.toFixed(1)} s (${((seconds * 1000) / images).toFixed(1)} ms/img); ` +
          `RSS before ${(rssBefore / MiB).toFixed(0)} MiB, sampled peak ${(peakSampled / MiB).toFixed(0)} MiB, process maxRSS ${(maxRss / MiB).toFixed(0)} MiB\n`,
      );
      expect(images).toBe(COUNT);
      expect(checksum).toBeGreaterThan(0);
      expect(maxRss).toBeLessThan(1.5 * 1024 * MiB);
      expect(peakSampled - rssBefore).toBeLessThan(512 * MiB);
    } finally {
      cleanup();
    }
  });
});
