import sharp from 'sharp';

/** An RGB colour, 0–255 per channel. */
export type Rgb = readonly [number, number, number];

/** A text label drawn over a canvas (rendered by sharp from SVG). */
export interface TextLabel {
  text: string;
  x: number;
  y: number;
  size?: number;
  anchor?: 'start' | 'middle' | 'end';
  /** Rotate 90° counter-clockwise about (x, y), for a y-axis title. */
  vertical?: boolean;
}

/**
 * A minimal RGBA pixel buffer with alpha blending, rectangles and lines, written to PNG by sharp.
 * Coordinates are pixels, origin top-left. @internal
 */
export class RgbaCanvas {
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.data = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) this.data.set([...background, 255], i * 4);
  }

  /** Blends `color` over pixel (x, y) with opacity `alpha`; outside pixels are ignored. */
  blend(x: number, y: number, color: Rgb, alpha = 1): void {
    const px = Math.round(x);
    const py = Math.round(y);
    if (px < 0 || py < 0 || px >= this.width || py >= this.height) return;
    const i = (py * this.width + px) * 4;
    for (let c = 0; c < 3; c++) this.data[i + c] = Math.round(this.data[i + c]! * (1 - alpha) + color[c]! * alpha);
  }

  /** Fills the pixels with x in [x0, x1) and y in [y0, y1) (rounded, clipped). */
  fillRect(x0: number, y0: number, x1: number, y1: number, color: Rgb, alpha = 1): void {
    const [left, right] = [Math.round(Math.min(x0, x1)), Math.round(Math.max(x0, x1))];
    const [top, bottom] = [Math.round(Math.min(y0, y1)), Math.round(Math.max(y0, y1))];
    for (let y = Math.max(top, 0); y < Math.min(bottom, this.height); y++) {
      for (let x = Math.max(left, 0); x < Math.min(right, this.width); x++) this.blend(x, y, color, alpha);
    }
  }

  /** A straight line `thickness` pixels wide; `dash` > 0 draws dashes of that many pixels. */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1, dash = 0): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const half = (thickness - 1) / 2;
    for (let s = 0; s <= steps; s++) {
      if (dash > 0 && Math.floor(s / dash) % 2 === 1) continue;
      const x = x0 + ((x1 - x0) * s) / steps;
      const y = y0 + ((y1 - y0) * s) / steps;
      this.fillRect(x - half, y - half, x + half + 1, y + half + 1, color);
    }
  }

  /** Encodes the canvas as PNG, with `labels` rendered on top. */
  async toPng(labels: readonly TextLabel[] = []): Promise<Buffer> {
    const image = sharp(Buffer.from(this.data.buffer), {
      raw: { width: this.width, height: this.height, channels: 4 },
    });
    if (labels.length > 0) image.composite([{ input: Buffer.from(this.#svg(labels)), top: 0, left: 0 }]);
    return image.png().toBuffer();
  }

  #svg(labels: readonly TextLabel[]): string {
    const texts = labels.map(({ text, x, y, size = 12, anchor = 'middle', vertical = false }) => {
      const transform = vertical ? ` transform="rotate(-90 ${x} ${y})"` : '';
      return `<text x="${x}" y="${y}" font-size="${size}" text-anchor="${anchor}"${transform}>${escapeXml(text)}</text>`;
    });
    return (
      `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}">` +
      `<g font-family="DejaVu Sans, Arial, sans-serif" fill="#202020">${texts.join('')}</g></svg>`
    );
  }
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
