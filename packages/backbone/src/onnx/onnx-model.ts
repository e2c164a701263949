/**
 * Encodes an ONNX model (ModelProto) from a small in-memory graph — nodes with int / ints / float /
 * string attributes, float32 and int64 initializers, typed inputs and outputs with fixed or symbolic
 * dimensions — with onnx-proto (onnx.proto compiled by protobufjs). The ResNet graphs of the
 * onnxruntime runtime and `@dfm/core`'s whole-model export are built with it.
 */
import onnxProto, { type onnx } from 'onnx-proto';

/** The compiled ONNX messages (onnx-proto is CommonJS: its namespace is read from the default export; read on use, so importing this module runs nothing). */
const proto = () => onnxProto.onnx;

/** ONNX IR version written (8: ONNX 1.10+; onnxruntime ≥ 1.10 and onnx 1.12's checker read it). */
export const ONNX_IR_VERSION = 8;
/**
 * Default-domain opset the graphs use unless they say otherwise: 17 (ONNX 1.12), the newest that
 * Debian's python3-onnx checks. The graphs use nothing newer (Resize's `antialias` of opset 18 is not
 * needed: images are resized before the graph).
 */
export const ONNX_OPSET = 17;


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
  /**
   * float32 data, float64 data (thresholds compared in double), int8 / uint8 / int32 data (quantized
   * weights, zero points and biases), or int64 data (as numbers) for shape tensors.
   */
  data: Float32Array | Float64Array | Int8Array | Uint8Array | Int32Array | { int64: readonly number[] };
}

/** Element types of graph inputs and outputs. */
export type OnnxElementType = 'float32' | 'float64' | 'uint8' | 'bool' | 'int64';

/** TensorProto.DataType of each element type. */
const ELEMENT_TYPES: Record<OnnxElementType, number> = { float32: 1, uint8: 2, int64: 7, bool: 9, float64: 11 };

export interface OnnxValueInfo {
  name: string;
  /** Element type (default `'float32'`). */
  type?: OnnxElementType;
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
  /** Human-readable description of the graph (GraphProto.doc_string). */
  docString?: string;
}

/** Options of {@link encodeOnnxModel}. */
export interface EncodeOnnxOptions {
  /** ModelProto.producer_name (default `'@dfm/backbone'`). */
  producer?: string;
  /** ModelProto.producer_version. */
  producerVersion?: string;
  /** Default-domain opset (default {@link ONNX_OPSET}). */
  opset?: number;
}

function attribute(name: string, value: OnnxAttribute): onnx.IAttributeProto {
  const { AttributeType } = proto().AttributeProto;
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: [...(value as readonly number[])] };
  if ('string' in value) return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value.string) };
  return { name, type: AttributeType.FLOAT, f: (value as { float: number }).float };
}

/** Little-endian bytes of an initializer (TensorProto.raw_data). */
function rawData(data: OnnxInitializer['data']): { dataType: number; raw: Uint8Array } {
  const { DataType } = proto().TensorProto;
  if (data instanceof Float32Array) {
    const raw = new Uint8Array(data.byteLength);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] as number, true);
    return { dataType: DataType.FLOAT, raw };
  }
  if (data instanceof Float64Array) {
    const raw = new Uint8Array(data.byteLength);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat64(i * 8, data[i] as number, true);
    return { dataType: DataType.DOUBLE, raw };
  }
  if (data instanceof Int8Array) return { dataType: DataType.INT8, raw: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
  if (data instanceof Uint8Array) return { dataType: DataType.UINT8, raw: Uint8Array.from(data) };
  if (data instanceof Int32Array) {
    const raw = new Uint8Array(data.byteLength);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setInt32(i * 4, data[i] as number, true);
    return { dataType: DataType.INT32, raw };
  }
  const raw = new Uint8Array(data.int64.length * 8);
  const view = new DataView(raw.buffer);
  data.int64.forEach((v, i) => {
    view.setBigInt64(i * 8, BigInt(v), true);
  });
  return { dataType: DataType.INT64, raw };
}

function valueInfo(info: OnnxValueInfo): onnx.IValueInfoProto {
  const dim = info.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name: info.name, type: { tensorType: { elemType: ELEMENT_TYPES[info.type ?? 'float32'], shape: { dim } } } };
}

/**
 * The `.onnx` bytes of a graph.
 *
 * @example
 * const bytes = encodeOnnxModel({ name: 'relu', nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }],
 *   initializers: [], inputs: [{ name: 'x', dims: ['n', 4] }], outputs: [{ name: 'y', dims: ['n', 4] }] });
 */
export function encodeOnnxModel(graph: OnnxGraph, options: EncodeOnnxOptions = {}): Uint8Array {
  const { producer = '@dfm/backbone', producerVersion, opset = ONNX_OPSET } = options;
  const model: onnx.IModelProto = {
    irVersion: ONNX_IR_VERSION,
    producerName: producer,
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: graph.name,
      node: graph.nodes.map((node) => ({
        input: [...node.inputs],
        output: [...node.outputs],
        name: node.name,
        opType: node.opType,
        attribute: Object.entries(node.attributes ?? {}).map(([name, value]) => attribute(name, value)),
      })),
      initializer: graph.initializers.map((initializer) => {
        const { dataType, raw } = rawData(initializer.data);
        return { name: initializer.name, dims: [...initializer.dims], dataType, rawData: raw };
      }),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
    metadataProps: Object.entries(graph.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  if (producerVersion !== undefined) model.producerVersion = producerVersion;
  if (graph.docString !== undefined) (model.graph as onnx.IGraphProto).docString = graph.docString;
  return proto().ModelProto.encode(model).finish();
}

/** Parses `.onnx` bytes (for tests and tools: the opset, inputs, outputs and metadata of a model). */
export function decodeOnnxModel(bytes: Uint8Array): onnx.ModelProto {
  return proto().ModelProto.decode(bytes);
}
