#!/usr/bin/env python3
"""Checks an ONNX export folder (dfm export --export-type onnx) with the onnx package.

  /usr/bin/python3 packages/core/scripts/check-onnx-export.py DIR [DIR ...]

For each folder: onnx.checker.check_model(model, full_check=True) (the checker plus strict shape
inference), the default-domain opset is at most 17, the graph's input and outputs are the ones
metadata.json lists (names, element types, shapes, the dynamic 'batch' axis), the sha256 and size
of model.onnx match metadata.json, and the metadata stored inside model.onnx (metadata_props key
"dfm") equals metadata.json without its "model" entry. Prints one JSON line per folder; exits 1 on
the first failure. Needs python3-onnx (Debian's 1.12 checks opsets up to 17).
"""
import hashlib
import json
import os
import sys

import onnx

ELEMENT_TYPES = {"float32": onnx.TensorProto.FLOAT, "bool": onnx.TensorProto.BOOL}


def dims(value_info):
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in value_info.type.tensor_type.shape.dim]


def check(folder):
    with open(os.path.join(folder, "metadata.json"), encoding="utf-8") as f:
        metadata = json.load(f)
    path = os.path.join(folder, metadata["model"]["file"])
    with open(path, "rb") as f:
        data = f.read()
    assert hashlib.sha256(data).hexdigest() == metadata["model"]["sha256"], "sha256 of model.onnx differs from metadata.json"
    assert len(data) == metadata["model"]["bytes"], "size of model.onnx differs from metadata.json"
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model, full_check=True)
    opsets = {o.domain: o.version for o in model.opset_import}
    assert set(opsets) == {""}, f"only the default domain is used, got {opsets}"
    assert opsets[""] <= 17 and opsets[""] == metadata["model"]["opset"], f"opset {opsets['']} (metadata says {metadata['model']['opset']})"
    assert model.ir_version == metadata["model"]["irVersion"], f"IR version {model.ir_version}"
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    assert [i.name for i in inputs] == [metadata["input"]["name"]], f"inputs {[i.name for i in inputs]}"
    assert dims(inputs[0]) == metadata["input"]["shape"], f"input shape {dims(inputs[0])} vs {metadata['input']['shape']}"
    assert inputs[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    expected = metadata["outputs"]
    assert [o.name for o in graph.output] == [o["name"] for o in expected], f"outputs {[o.name for o in graph.output]}"
    for actual, wanted in zip(graph.output, expected):
        assert actual.type.tensor_type.elem_type == ELEMENT_TYPES[wanted["dtype"]], f"{actual.name}: element type"
        assert dims(actual) == wanted["shape"], f"{actual.name}: shape {dims(actual)} vs {wanted['shape']}"
    props = {p.key: p.value for p in model.metadata_props}
    inside = json.loads(props["dfm"])
    outside = {k: v for k, v in metadata.items() if k != "model"}
    assert inside == outside, "the metadata inside model.onnx differs from metadata.json"
    return {
        "folder": folder,
        "ok": True,
        "onnx": onnx.__version__,
        "opset": opsets[""],
        "ir_version": model.ir_version,
        "nodes": len(graph.node),
        "ops": sorted({n.op_type for n in graph.node}),
        "outputs": [o.name for o in graph.output],
        "bytes": len(data),
    }


def main(folders):
    if not folders:
        print(__doc__, file=sys.stderr)
        return 2
    for folder in folders:
        try:
            print(json.dumps(check(folder)))
        except Exception as error:  # noqa: BLE001 - report any failure as one line
            print(json.dumps({"folder": folder, "ok": False, "error": f"{type(error).__name__}: {error}"}))
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
