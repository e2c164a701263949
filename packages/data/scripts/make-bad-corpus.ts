/**
 * Generates the bad-input corpus in `test/fixtures/bad/` (committed): small files, each one fault
 * or awkward format that a camera, an upload or a dataset folder can produce. `corpus.test.ts`
 * checks every case, and that rerunning this script reproduces the committed bytes.
 *
 * Usage (from packages/data): node --import tsx scripts/make-bad-corpus.ts [outDir]
 *
 * Symlink loops cannot be committed portably: the tests create them at run time in a temp folder.
 * The 20000×20000 "bombs" are tiny files whose headers declare that size; no large image is made.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** One corpus file and what loading it must do (the tests read this list). */
export interface CorpusCase {
  file: string;
  fault: string;
  /** `error:<ErrorClass>` or `decodes` (with the documented conversion). */
  expect: string;
}

const W = 16;
const H = 12;

/** Deterministic RGB pattern [H, W, 3]. */
function pattern(height = H, width = W): Buffer {
  const out = Buffer.alloc(height * width * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = (9 * x + 17 * y + 71 * c) % 256;
  return out;
}

const rgb = (data = pattern(), height = H, width = W) => sharp(data, { raw: { width, height, channels: 3 } });

/** A PNG chunk: length, type, data, CRC. */
function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** A hand-written PNG whose IHDR declares width × height (8-bit RGB), with a tiny IDAT of 2 rows. */
function pngDeclaring(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type 2 (RGB), deflate, no filter, no interlace
  const rows = Buffer.alloc(2 * (1 + width * 3)); // 2 filter-0 rows of black; the rest is missing
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

/** A valid JPEG with its SOF0 frame size rewritten to width × height. */
function jpegDeclaring(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length; ) {
    if (out[i] !== 0xff) throw new Error('jpegDeclaring: lost sync in the JPEG markers');
    const marker = out[i + 1]!;
    const length = out.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc2) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + length;
  }
  throw new Error('jpegDeclaring: no SOF marker found');
}

/** Writes every corpus file into `outDir`; returns the cases (also written as `cases.json`). */
export async function makeBadCorpus(outDir: string): Promise<CorpusCase[]> {
  mkdirSync(join(outDir, 'mask-mismatch'), { recursive: true });
  const cases: CorpusCase[] = [];
  const put = (file: string, bytes: Buffer | string, fault: string, expect: string) => {
    writeFileSync(join(outDir, file), bytes);
    cases.push({ file, fault, expect });
  };
  const png = await rgb().png().toBuffer();
  const jpeg = await rgb(pattern(32, 32), 32, 32).jpeg({ quality: 90 }).toBuffer();

  put('zero-byte.png', Buffer.alloc(0), 'empty file (0 bytes)', 'error:ImageDecodeError');
  put('truncated.png', png.subarray(0, Math.floor(png.length / 2)), 'PNG cut in half (truncated upload)', 'error:ImageDecodeError');
  put('truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), 'JPEG cut in the scan data (corrupt camera frame)', 'error:ImageDecodeError');
  put('text-named.png', 'this is a log file, not an image\n', 'not an image, with an image extension', 'error:ImageDecodeError');
  put('png-named.jpg', png, 'a PNG with a .jpg extension (wrong extension)', 'decodes: by content, the extension is ignored');
  put('one-pixel.png', await rgb(Buffer.from([200, 100, 50]), 1, 1).png().toBuffer(), '1×1 image', 'decodes: resizes to any size (one colour)');
  put('bomb-20000x20000.png', pngDeclaring(20000, 20000), 'PNG header declaring 20000×20000 (decompression bomb)', 'error:ImageTooLargeError');
  put('bomb-20000x20000.jpg', jpegDeclaring(jpeg, 20000, 20000), 'JPEG header declaring 20000×20000 (decompression bomb)', 'error:ImageTooLargeError');
  const sixteen = Buffer.alloc(H * W * 3 * 2);
  for (let i = 0; i < H * W * 3; i++) sixteen.writeUInt16LE((i * 2731 + 17) % 65536, i * 2);
  put(
    'sixteen-bit.png',
    await sharp(new Uint16Array(sixteen.buffer, sixteen.byteOffset, H * W * 3), { raw: { width: W, height: H, channels: 3 } }).toColourspace('rgb16').png().toBuffer(),
    '16-bit RGB PNG',
    'decodes: v / 65535 in [0, 1]',
  );
  const few = Buffer.from(pattern().map((v) => (v < 128 ? 30 : 220)));
  put('palette.png', await rgb(few).png({ palette: true, dither: 0 }).toBuffer(), 'palette (indexed) PNG', 'decodes: RGB');
  const flat = Buffer.alloc(H * W * 3);
  for (let p = 0; p < H * W; p++) flat.set(p < (H * W) / 2 ? [200, 40, 40] : [40, 40, 200], p * 3);
  put('cmyk.jpg', await rgb(flat).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer(), 'CMYK JPEG', 'decodes: RGB through an ICC profile');
  const greyAlpha = Buffer.alloc(H * W * 2);
  for (let p = 0; p < H * W; p++) greyAlpha.set([(p * 7) % 256, p % 2 === 0 ? 0 : 255], p * 2);
  put('grey-alpha.png', await sharp(greyAlpha, { raw: { width: W, height: H, channels: 2 } }).png().toBuffer(), 'grey + alpha PNG', 'decodes: grey replicated to RGB, alpha dropped');
  const frames = Buffer.alloc(2 * H * W * 3);
  frames.fill(50, 0, H * W * 3);
  frames.fill(200, H * W * 3);
  const animated = () => sharp(frames, { raw: { width: W, height: 2 * H, channels: 3, pageHeight: H } });
  put('animated.gif', await animated().gif().toBuffer(), 'animated GIF (2 frames)', 'decodes: the first frame');
  put('animated.webp', await animated().webp({ lossless: true }).toBuffer(), 'animated WebP (2 frames)', 'decodes: the first frame');
  put('mask-mismatch/image.png', png, 'image of a mask pair', 'decodes');
  const maskData = Buffer.alloc(8 * 10);
  maskData.fill(255, 20, 40);
  put(
    'mask-mismatch/image_mask.png',
    await sharp(maskData, { raw: { width: 10, height: 8, channels: 1 } }).toColourspace('b-w').png().toBuffer(),
    'a 10×8 mask for a 16×12 image (masks that do not match)',
    'error:MaskMismatchError',
  );
  put('truncated_mask.png', (await sharp(maskData, { raw: { width: 10, height: 8, channels: 1 } }).toColourspace('b-w').png().toBuffer()).subarray(0, 40), 'truncated mask', 'error:ImageDecodeError');
  writeFileSync(join(outDir, 'cases.json'), `${JSON.stringify(cases, null, 2)}\n`);
  return cases;
}

const here = dirname(fileURLToPath(import.meta.url));
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const outDir = resolve(process.argv[2] ?? join(here, '..', 'test', 'fixtures', 'bad'));
  const cases = await makeBadCorpus(outDir);
  process.stdout.write(`wrote ${cases.length} corpus files to ${outDir}\n`);
}
