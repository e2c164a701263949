import { describe, expect, it } from 'vitest';
import { ProgressBar } from './progress-bar';

/** A stream that records what is written to it. */
function recorder(): { stream: NodeJS.WritableStream; text: () => string } {
  let text = '';
  const stream = {
    write(chunk: string) {
      text += chunk;
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return { stream, text: () => text };
}

describe('ProgressBar', () => {
  it('draws the PCA phases in place: "PCA: accumulating" with a bar, "PCA: solving" with the iteration', () => {
    const { stream, text } = recorder();
    const bar = new ProgressBar({ stream, force: true });
    bar.onFitProgress({ phase: 'accumulating', fraction: 0.5 });
    bar.onFitProgress({ phase: 'solving' });
    bar.onFitProgress({ phase: 'solving', iteration: 3 });
    expect(text()).toMatch(/\rPCA: accumulating █{12}░{12} 50%/);
    expect(text()).toMatch(/\rPCA: solving {20}/);
    expect(text()).toMatch(/\rPCA: solving \(iteration 3\)/);
  });

  it('is silent when the stream is not a terminal', () => {
    const { stream, text } = recorder();
    new ProgressBar({ stream }).onFitProgress({ phase: 'solving' });
    expect(text()).toBe('');
  });
});
