import { isNode } from '@dfm/backbone/internal';
import type { DecodeImagePixelsOptions, decodeImagePixels } from '@dfm/data';
import { DfmError, InvalidArgumentError } from '@dfm/errors';
import { describeValue, type RawPixels, type RgbPixels, rawPixelsToRgb } from './raw-pixels';

/**
 * A DOM type when the program has the DOM library (`lib: ["dom"]`), else `never`: the Detector's
 * browser inputs are typed in a web app and vanish from the union in a Node program without
 * `"dom"`, which then needs no DOM typings to compile.
 */
export type DomType<Name extends string> = typeof globalThis extends { [K in Name]: { prototype: infer T } } ? T : never;

/** What a browser can draw: decoded by the browser, pre-processed by the Detector. */
export type BrowserImage =
  | DomType<'ImageData'>
  | DomType<'ImageBitmap'>
  | DomType<'HTMLImageElement'>
  | DomType<'HTMLCanvasElement'>
  | DomType<'OffscreenCanvas'>
  | Blob;

/**
 * An image for {@link Detector.predict}:
 * - a file path (Node only);
 * - the bytes of an encoded image (PNG, JPEG, BMP, TIFF, WebP, GIF; a `Buffer` is a `Uint8Array`);
 * - raw pixels {@link RawPixels} `{ data, width, height, channels }` (HWC; 8-bit, 16-bit or float 0–1);
 * - in a browser: `ImageData`, `ImageBitmap`, `HTMLImageElement`, `HTMLCanvasElement`,
 *   `OffscreenCanvas` or a `Blob`/`File` (a `Blob` works in Node too).
 */
export type DetectorInput = string | Uint8Array | RawPixels | BrowserImage;

/** @internal How an encoded image is to be resized by sharp (Node, models with a libvips kernel). */
export type SharpResize = NonNullable<DecodeImagePixelsOptions['resize']>;

/** @internal Options of {@link decodeDetectorInput}. */
export interface DecodeInputOptions {
  where: string;
  what: string;
  pixelLimit: number | undefined;
  /** Set for a model resizing with a sharp kernel: encoded images are resized while decoding (Node). */
  sharpResize: SharpResize | undefined;
}

/** @internal RGB pixels and whether sharp already resized them to the model's size. */
export interface DecodedInput extends RgbPixels {
  resizedBySharp: boolean;
}

const EXPECTED =
  'an image path (Node), the bytes of an encoded image (Uint8Array), raw pixels { data, width, height, channels: 1 | 3 | 4 }, or in a browser ImageData | ImageBitmap | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | Blob';

/** `input instanceof globalThis[name]`, false when this runtime has no such class. */
function isInstance(input: unknown, name: string): boolean {
  const type = (globalThis as Record<string, unknown>)[name];
  return typeof type === 'function' && input instanceof (type as abstract new (...args: never[]) => unknown);
}

type DataModule = { decodeImagePixels: typeof decodeImagePixels; RESIZE_KERNELS: readonly string[] };
let dataModule: Promise<DataModule> | undefined;

/**
 * @internal `@dfm/data` (sharp), imported on first use and only in Node, through a specifier
 * bundlers do not follow: a browser bundle of `@dfm/core` never contains sharp.
 */
export function loadDataModule(where: string): Promise<DataModule> {
  if (!isNode()) {
    return Promise.reject(
      new DfmError(`${where}: decoding image files with sharp needs Node.js — this runtime is not Node.js. In a browser pass a Blob, an ImageBitmap or ImageData.`, {
        code: 'E_RUNTIME_UNAVAILABLE',
      }),
    );
  }
  if (dataModule === undefined) {
    const name = '@dfm/data';
    dataModule = (import(/* @vite-ignore */ name) as Promise<DataModule>).catch((cause: unknown) => {
      dataModule = undefined;
      throw new DfmError(`${where}: decoding images in Node needs @dfm/data (sharp), which could not be imported (${(cause as Error).message}). Install it: npm install @dfm/data.`, {
        code: 'E_RUNTIME_UNAVAILABLE',
        cause,
      });
    });
  }
  return dataModule;
}

/** Prefixes a decoder's error with the caller, keeping its code (`E_IMAGE_DECODE`, `E_IMAGE_TOO_LARGE`, …). */
function withCaller(error: unknown, where: string): unknown {
  if (!(error instanceof DfmError)) return error;
  return new DfmError(`${where}: ${error.message}`, { code: error.code, cause: error });
}

/**
 * @internal Any {@link DetectorInput} → RGB pixels at their own size (or, for encoded images of a
 * sharp-kernel model in Node, at the model's size). Files, bytes and Blobs are decoded by sharp in
 * Node (exactly as the training loader) and by the browser elsewhere; nothing is resized here
 * except by sharp.
 */
export async function decodeDetectorInput(input: DetectorInput, options: DecodeInputOptions): Promise<DecodedInput> {
  const { where, what } = options;
  if (typeof input === 'string') {
    if (!isNode()) {
      throw new InvalidArgumentError(
        `${where}: ${what} is a path (${JSON.stringify(input.slice(0, 80))}), which needs Node.js — this runtime has no file system. In a browser pass a Blob/File, an ImageBitmap, an <img>, a canvas, ImageData or the image's bytes.`,
      );
    }
    if (input.length === 0) throw new InvalidArgumentError(`${where}: ${what} must be ${EXPECTED} — got an empty string.`);
    return decodeEncoded(input, options);
  }
  if (input instanceof Uint8Array) {
    if (input.length === 0) throw new InvalidArgumentError(`${where}: ${what} must be the bytes of an encoded image — got an empty Uint8Array.`);
    if (isNode()) return decodeEncoded(input, options);
    return checkLimit(await decodeInBrowser(new Blob([input as Uint8Array<ArrayBuffer>]), options), options);
  }
  if (isInstance(input, 'Blob')) {
    const blob = input as Blob;
    if (blob.size === 0) throw new InvalidArgumentError(`${where}: ${what} is an empty Blob (0 bytes) — expected an encoded image.`);
    if (isNode()) return decodeEncoded(new Uint8Array(await blob.arrayBuffer()), options);
    return checkLimit(await decodeInBrowser(blob, options), options);
  }
  if (isInstance(input, 'ImageData')) {
    const image = input as unknown as { data: Uint8ClampedArray; width: number; height: number };
    return checkLimit({ ...rawPixelsToRgb({ data: image.data, width: image.width, height: image.height, channels: 4 }, where, what), resizedBySharp: false }, options);
  }
  for (const name of ['ImageBitmap', 'HTMLImageElement', 'HTMLCanvasElement', 'OffscreenCanvas']) {
    if (isInstance(input, name)) return checkLimit(await drawnPixels(input as unknown as Drawable, name, options), options);
  }
  if (input !== null && typeof input === 'object' && !ArrayBuffer.isView(input) && 'data' in input) {
    return checkLimit({ ...rawPixelsToRgb(input as RawPixels, where, what), resizedBySharp: false }, options);
  }
  const hint =
    input instanceof ArrayBuffer
      ? ' (wrap it: new Uint8Array(buffer))'
      : ArrayBuffer.isView(input)
        ? ' (raw pixels need their size: pass { data, width, height, channels })'
        : '';
  throw new InvalidArgumentError(`${where}: ${what} must be ${EXPECTED} — got ${describeValue(input)}${hint}.`);
}

/** Refuses decoded pixels above the pixel limit, when one was given. */
function checkLimit(pixels: DecodedInput, options: DecodeInputOptions): DecodedInput {
  const { pixelLimit } = options;
  if (pixelLimit !== undefined && pixels.width * pixels.height > pixelLimit) {
    throw new DfmError(
      `${options.where}: ${options.what} is ${pixels.width}×${pixels.height} = ${pixels.width * pixels.height} pixels, above pixelLimit ${pixelLimit}. Shrink the image or raise pixelLimit.`,
      { code: 'E_IMAGE_TOO_LARGE' },
    );
  }
  return pixels;
}

/** Node: a path or encoded bytes through `@dfm/data`'s decoder (sharp), exactly as the training loader decodes. */
async function decodeEncoded(source: string | Uint8Array, options: DecodeInputOptions): Promise<DecodedInput> {
  const { decodeImagePixels } = await loadDataModule(options.where);
  try {
    const pixels = await decodeImagePixels(source, {
      pixelLimit: options.pixelLimit,
      resize: options.sharpResize,
      label: typeof source === 'string' ? undefined : `${options.what} (${source.length} bytes)`,
    });
    return { ...pixels, resizedBySharp: options.sharpResize !== undefined };
  } catch (error) {
    throw withCaller(error, options.where);
  }
}

/** The structural part of the DOM canvas API used here (no DOM typings needed). */
interface Drawable {
  width?: number;
  height?: number;
  naturalWidth?: number;
  naturalHeight?: number;
  complete?: boolean;
  decode?: () => Promise<void>;
  close?: () => void;
}
interface Context2d {
  drawImage(image: unknown, dx: number, dy: number): void;
  getImageData(sx: number, sy: number, sw: number, sh: number): { data: Uint8ClampedArray; width: number; height: number };
}
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d', options?: Record<string, unknown>): Context2d | null;
}

/** A 2D canvas: an OffscreenCanvas where there is one (workers too), else a `<canvas>` element. */
function createCanvas(width: number, height: number, where: string): Canvas {
  const g = globalThis as unknown as { OffscreenCanvas?: new (w: number, h: number) => Canvas; document?: { createElement(tag: 'canvas'): Canvas } };
  if (typeof g.OffscreenCanvas === 'function') return new g.OffscreenCanvas(width, height);
  if (g.document !== undefined) {
    const canvas = g.document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    return canvas;
  }
  throw new DfmError(`${where}: drawing an image needs a canvas (OffscreenCanvas or document) — this runtime has neither. Pass raw pixels { data, width, height, channels } instead.`, {
    code: 'E_RUNTIME_UNAVAILABLE',
  });
}

/**
 * The pixels of a drawable at its natural size: drawn 1:1 on a 2D canvas and read back as RGBA.
 * The canvas only copies the decoded pixels; the model's resize runs afterwards, on these.
 */
async function drawnPixels(image: Drawable, kind: string, options: DecodeInputOptions): Promise<DecodedInput> {
  const { where, what } = options;
  if (kind === 'HTMLImageElement' && (!image.complete || !image.naturalWidth)) {
    try {
      await image.decode?.();
    } catch (cause) {
      throw new DfmError(`${where}: ${what} is an <img> whose image could not be loaded or decoded (${(cause as Error).message}). Check its src.`, {
        code: 'E_IMAGE_DECODE',
        cause,
      });
    }
  }
  const width = (kind === 'HTMLImageElement' ? image.naturalWidth : image.width) ?? 0;
  const height = (kind === 'HTMLImageElement' ? image.naturalHeight : image.height) ?? 0;
  if (!(width > 0 && height > 0)) {
    throw new InvalidArgumentError(
      `${where}: ${what} is a${/^[AEIOU]/i.test(kind) ? 'n' : ''} ${kind} of ${width}×${height} pixels — expected a non-empty image${kind === 'ImageBitmap' ? ' (was it closed?)' : ''}.`,
    );
  }
  const canvas = createCanvas(width, height, where);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (context === null) {
    throw new DfmError(`${where}: the browser gave no 2D canvas context to read ${what}'s pixels. Pass raw pixels { data, width, height, channels } instead.`, {
      code: 'E_RUNTIME_UNAVAILABLE',
    });
  }
  context.drawImage(image, 0, 0);
  const { data } = context.getImageData(0, 0, width, height);
  return { ...rawPixelsToRgb({ data, width, height, channels: 4 }, where, what), resizedBySharp: false };
}

/**
 * A browser decodes an encoded image: `createImageBitmap` with EXIF orientation applied, no colour
 * conversion (as the training loader ignores ICC profiles) and no alpha premultiplication.
 */
async function decodeInBrowser(blob: Blob, options: DecodeInputOptions): Promise<DecodedInput> {
  const { where, what } = options;
  const create = (globalThis as { createImageBitmap?: (image: Blob, options?: Record<string, string>) => Promise<Drawable> }).createImageBitmap;
  if (typeof create !== 'function') {
    throw new DfmError(`${where}: decoding image bytes needs createImageBitmap — this runtime has none. Pass raw pixels { data, width, height, channels } instead.`, {
      code: 'E_RUNTIME_UNAVAILABLE',
    });
  }
  let bitmap: Drawable;
  try {
    bitmap = await create(blob, { imageOrientation: 'from-image', colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (cause) {
    throw new DfmError(
      `${where}: ${what} (${blob.size} bytes${blob.type ? `, ${blob.type}` : ''}) could not be decoded by the browser (${(cause as Error).message}). Pass a PNG, JPEG, BMP, WebP or GIF image.`,
      { code: 'E_IMAGE_DECODE', cause },
    );
  }
  try {
    return await drawnPixels(bitmap, 'ImageBitmap', options);
  } finally {
    bitmap.close?.();
  }
}
