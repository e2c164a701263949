import type { onnx } from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { decodeOnnxModel, encodeOnnxModel, ONNX_IR_VERSION, ONNX_OPSET, type OnnxGraph } from './onnx-model';

describe('encodeOnnxModel (onnx-proto)', () => {
  const graph: OnnxGraph = {
    name: 'scale',
    nodes: [
      { opType: 'Mul', inputs: ['x', 'two'], outputs: ['y'], name: 'double' },
      { opType: 'Greater', inputs: ['y', 'two'], outputs: ['big'] },
      { opType: 'Transpose', inputs: ['x'], outputs: ['t'], attributes: { perm: [1, 0] } },
      { opType: 'LeakyRelu', inputs: ['x'], outputs: ['l'], attributes: { alpha: { float: 0.25 } } },
      { opType: 'Resize', inputs: ['x', '', 'scales'], outputs: ['r'], attributes: { mode: { string: 'linear' } } },
    ],
    initializers: [
      { name: 'two', dims: [1], data: Float32Array.of(2) },
      { name: 'scales', dims: [2], data: { int64: [1, -3] } },
      { name: 'threshold', dims: [], data: Float64Array.of(0.1) },
    ],
    inputs: [{ name: 'x', dims: ['n', 4] }],
    outputs: [
      { name: 'y', dims: ['n', 4] },
      { name: 'big', type: 'bool', dims: ['n', 4] },
    ],
    metadata: { dfm: '{"a":1}' },
    docString: 'a test graph',
  };

  it('writes what onnx.proto says, read back by the same schema', () => {
    const model = decodeOnnxModel(encodeOnnxModel(graph, { producer: 'test', producerVersion: '1.2.3', opset: 13 }));
    expect(Number(model.irVersion)).toBe(ONNX_IR_VERSION);
    expect(model.producerName).toBe('test');
    expect(model.producerVersion).toBe('1.2.3');
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 13]]);
    expect(model.metadataProps.map((p) => [p.key, p.value])).toEqual([['dfm', '{"a":1}']]);
    const g = model.graph as onnx.GraphProto;
    expect(g.docString).toBe('a test graph');
    expect(g.node.map((n) => n.opType)).toEqual(['Mul', 'Greater', 'Transpose', 'LeakyRelu', 'Resize']);
    expect(g.node[0]!.name).toBe('double');
    expect(g.node[4]!.input).toEqual(['x', '', 'scales']);
    const attrs = Object.fromEntries(g.node.flatMap((n) => (n as onnx.NodeProto).attribute.map((a) => [a.name, a])));
    expect(attrs.perm!.ints.map(Number)).toEqual([1, 0]);
    expect(attrs.alpha!.f).toBeCloseTo(0.25, 7);
    expect(new TextDecoder().decode(attrs.mode!.s)).toBe('linear');
    const [two, scales, threshold] = g.initializer;
    expect(new Float64Array(Uint8Array.from(threshold!.rawData!).buffer)).toEqual(Float64Array.of(0.1));
    expect(threshold!.dataType).toBe(11); // DOUBLE
    expect(new Float32Array(Uint8Array.from(two!.rawData!).buffer)).toEqual(Float32Array.of(2));
    expect(Array.from(new BigInt64Array(Uint8Array.from(scales!.rawData!).buffer))).toEqual([1n, -3n]);
    expect(g.output.map((o) => o.type!.tensorType!.elemType)).toEqual([1, 9]); // FLOAT, BOOL
    expect((g.input[0]!.type!.tensorType!.shape as onnx.TensorShapeProto).dim.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['n', 4]);
  });

  it('defaults: producer @dfm/backbone and opset 17 (python3-onnx 1.12 checks up to 17)', () => {
    const model = decodeOnnxModel(encodeOnnxModel(graph));
    expect(model.producerName).toBe('@dfm/backbone');
    expect(ONNX_OPSET).toBe(17);
    expect(Number(model.opsetImport[0]!.version)).toBe(17);
  });
});
