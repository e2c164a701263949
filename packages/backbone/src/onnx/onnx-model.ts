/**
 * Encodes an ONNX model (ModelProto, onnx.proto field numbers) from a small in-memory graph:
 * nodes with int / ints / float attributes, float32 initializers, float32 inputs and outputs with
 * fixed or symbolic dimensions. Only what the ResNet graphs need.
 */
import { ProtobufWriter } from './protobuf-writer';

/** ONNX IR version written (ONNX 1.13+; onnxruntime ≥ 1.14 reads it). */
export const ONNX_IR_VERSION = 8;
/** Default-domain opset the graphs use (18: Resize with `antialias` and `axes`). */
export const ONNX_OPSET = 18;

const TENSOR_FLOAT = 1;
const TENSOR_UINT8 = 2;
const TENSOR_INT64 = 7;
const ATTRIBUTE_FLOAT = 1;
const ATTRIBUTE_INT = 2;
const ATTRIBUTE_STRING = 3;
const ATTRIBUTE_INTS = 7;

export type OnnxAttribute = number | readonly number[] | { float: number } | { string: string };

export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  /** Integer attributes as numbers, int lists as arrays, floats as `{ float }`, strings as `{ string }`. */
  attributes?: Readonly<Record<string, OnnxAttribute>>;
}

export interface OnnxInitializer {
  name: string;
  dims: readonly number[];
  /** float32 data, or int64 data (as numbers) for shape tensors. */
  data: Float32Array | { int64: readonly number[] };
}

export interface OnnxValueInfo {
  name: string;
  /** Element type (default `'float32'`). */
  type?: 'float32' | 'uint8';
  /** Each dimension a size or a symbolic name (`'batch'`). */
  dims: readonly (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxInitializer[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  /** Free key/value strings (ModelProto.metadata_props). */
  metadata?: Readonly<Record<string, string>>;
}

function encodeAttribute(name: string, value: OnnxAttribute): ProtobufWriter {
  const w = new ProtobufWriter().string(1, name);
  if (typeof value === 'number') return w.int(3, value).int(20, ATTRIBUTE_INT);
  if (Array.isArray(value)) return w.repeatedInt(8, value as number[]).int(20, ATTRIBUTE_INTS);
  if ('string' in value) return w.string(4, value.string).int(20, ATTRIBUTE_STRING);
  return w.float(2, (value as { float: number }).float).int(20, ATTRIBUTE_FLOAT);
}

function encodeNode(node: OnnxNode): ProtobufWriter {
  const w = new ProtobufWriter();
  for (const input of node.inputs) w.string(1, input);
  for (const output of node.outputs) w.string(2, output);
  if (node.name !== undefined) w.string(3, node.name);
  w.string(4, node.opType);
  for (const [name, value] of Object.entries(node.attributes ?? {})) w.message(5, encodeAttribute(name, value));
  return w;
}

function encodeInitializer(initializer: OnnxInitializer): ProtobufWriter {
  const w = new ProtobufWriter().repeatedInt(1, initializer.dims);
  if (initializer.data instanceof Float32Array) {
    const { data } = initializer;
    const raw = new Uint8Array(data.byteLength);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] as number, true);
    return w.int(2, TENSOR_FLOAT).string(8, initializer.name).bytes(9, raw);
  }
  const values = initializer.data.int64;
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => {
    view.setBigInt64(i * 8, BigInt(v), true);
  });
  return w.int(2, TENSOR_INT64).string(8, initializer.name).bytes(9, raw);
}

function encodeValueInfo(info: OnnxValueInfo): ProtobufWriter {
  const shape = new ProtobufWriter();
  for (const dim of info.dims) {
    const d = new ProtobufWriter();
    if (typeof dim === 'number') d.int(1, dim);
    else d.string(2, dim);
    shape.message(1, d);
  }
  const tensorType = new ProtobufWriter().int(1, info.type === 'uint8' ? TENSOR_UINT8 : TENSOR_FLOAT).message(2, shape);
  const type = new ProtobufWriter().message(1, tensorType);
  return new ProtobufWriter().string(1, info.name).message(2, type);
}

/**
 * The `.onnx` bytes of a graph.
 *
 * @example
 * const bytes = encodeOnnxModel({ name: 'relu', nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }],
 *   initializers: [], inputs: [{ name: 'x', dims: ['n', 4] }], outputs: [{ name: 'y', dims: ['n', 4] }] });
 */
export function encodeOnnxModel(graph: OnnxGraph, producer = '@dfm/backbone'): Uint8Array {
  const g = new ProtobufWriter();
  for (const node of graph.nodes) g.message(1, encodeNode(node));
  g.string(2, graph.name);
  for (const initializer of graph.initializers) g.message(5, encodeInitializer(initializer));
  for (const input of graph.inputs) g.message(11, encodeValueInfo(input));
  for (const output of graph.outputs) g.message(12, encodeValueInfo(output));

  const model = new ProtobufWriter()
    .int(1, ONNX_IR_VERSION)
    .string(2, producer)
    .message(7, g)
    .message(8, new ProtobufWriter().string(1, '').int(2, ONNX_OPSET));
  for (const [key, value] of Object.entries(graph.metadata ?? {})) {
    model.message(14, new ProtobufWriter().string(1, key).string(2, value));
  }
  return model.finish();
}
