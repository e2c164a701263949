import { describe, expect, it } from 'vitest';
import { encodeOnnxModel } from './onnx-model';
import { ProtobufWriter } from './protobuf-writer';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('ProtobufWriter (protobuf encoding guide examples)', () => {
  it('varints, strings, negative ints, floats and nested messages', () => {
    expect(hex(new ProtobufWriter().int(1, 150).finish())).toBe('089601');
    expect(hex(new ProtobufWriter().string(2, 'testing').finish())).toBe('120774657374696e67');
    expect(hex(new ProtobufWriter().int(1, -1).finish())).toBe('08ffffffffffffffffff01');
    expect(hex(new ProtobufWriter().float(2, 1).finish())).toBe('150000803f');
    expect(hex(new ProtobufWriter().message(3, new ProtobufWriter().int(1, 150)).finish())).toBe('1a03089601');
    const big = new Uint8Array(100).fill(7);
    const out = new ProtobufWriter().int(1, 1).bytes(9, big).int(2, 3).finish();
    expect(hex(out.subarray(0, 4))).toBe('08014a64');
    expect(out.length).toBe(4 + 100 + 2);
  });

  it('an ONNX model starts with its IR version and producer', () => {
    const bytes = encodeOnnxModel({
      name: 'relu',
      nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }],
      initializers: [],
      inputs: [{ name: 'x', dims: ['n', 4] }],
      outputs: [{ name: 'y', dims: ['n', 4] }],
    });
    expect(hex(bytes.subarray(0, 2))).toBe('0808');
    expect(Buffer.from(bytes).includes(Buffer.from('@dfm/backbone'))).toBe(true);
  });
});
