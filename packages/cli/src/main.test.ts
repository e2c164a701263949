import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from './main';
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
    expect(err.text()).toMatch(/^dfm: 'frobnicate' .*\n$/);
    expect(err.text().split('\n')).toHaveLength(2);
  });
});
