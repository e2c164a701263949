#!/usr/bin/env python3
"""Prepares images for an exported model.onnx exactly as docs/deploy.md says (Pillow + numpy).

  /usr/bin/python3 packages/core/scripts/prepare-onnx-input.py EXPORT_DIR OUT.f32 IMAGE [IMAGE ...]

Reads the input size from EXPORT_DIR/metadata.json, and writes the batch [N, 3, H, W] as raw
little-endian float32 to OUT.f32: each image converted to RGB, divided by 255, resized with Pillow's
antialiased bilinear on float ("F") planes, channels first. The tests feed this to onnxruntime and
compare the outputs with `dfm predict`: the docs' recipe, checked end to end.
"""
import json
import sys

import numpy as np
from PIL import Image


def main(folder, out_path, paths):
    meta = json.load(open(f"{folder}/metadata.json", encoding="utf-8"))
    height, width = meta["input"]["resize"]["size"]
    resample = Image.BILINEAR if meta["input"]["resize"]["kernel"] == "bilinear-antialiased" else Image.LANCZOS

    # --- the lines of docs/deploy.md ---
    def prepare(path):
        rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
        planes = [Image.fromarray(rgb[:, :, c], mode="F").resize((width, height), resample) for c in range(3)]
        return np.stack([np.asarray(p) for p in planes])  # [3, H, W]
    # ---

    batch = np.stack([prepare(p) for p in paths]).astype("<f4")
    batch.tofile(out_path)
    print(json.dumps({"images": len(paths), "shape": list(batch.shape), "pillow": Image.__version__, "numpy": np.__version__}))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
