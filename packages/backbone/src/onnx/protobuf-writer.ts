/**
 * A minimal protobuf wire-format writer: varints, length-delimited fields and raw bytes, enough to
 * encode the handful of ONNX messages this package builds. Messages are written inside-out: a
 * nested message is encoded first, then embedded as a length-delimited field.
 */
export class ProtobufWriter {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  private size = 0;

  /** Total bytes written so far. */
  get length(): number {
    return this.size + this.scratch.length;
  }

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    this.chunks.push(Uint8Array.from(this.scratch));
    this.size += this.scratch.length;
    this.scratch = [];
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    if (v < 0x80n) {
      this.scratch.push(Number(v));
      return;
    }
    while (v >= 0x80n) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.scratch.push(Number(v));
  }

  private tag(field: number, wireType: 0 | 1 | 2 | 5): void {
    this.varint((field << 3) | wireType);
  }

  /** int32 / int64 / enum / bool field (wire type 0). Negative values take 10 bytes, as protobuf says. */
  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  /** float field (wire type 5, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, 5);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.scratch.push(...bytes);
    return this;
  }

  /** UTF-8 string field. */
  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** bytes field (length-delimited). */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(value.length);
    if (value.length < 64) {
      this.scratch.push(...value);
    } else {
      this.flushScratch();
      this.chunks.push(value);
      this.size += value.length;
    }
    return this;
  }

  /** Embedded message field. */
  message(field: number, writer: ProtobufWriter): this {
    return this.bytes(field, writer.finish());
  }

  /** Repeated int64 field, unpacked (what proto2's `repeated int64` expects; parsers accept both). */
  repeatedInt(field: number, values: readonly number[]): this {
    for (const value of values) this.int(field, value);
    return this;
  }

  /** The encoded bytes. */
  finish(): Uint8Array {
    this.flushScratch();
    if (this.chunks.length === 1) return this.chunks[0] as Uint8Array;
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    this.chunks = [out];
    return out;
  }
}
