"""PyTorch reference of the DFM recipe timed by `pnpm bench` (packages/cli/src/bench).

The recipe: torchvision resnet18 -> layer3 (ImageNet weights), 256x256 input (PIL bilinear with
antialiasing), ImageNet normalisation, average pool 4 (kernel = stride), flatten, PCA keeping 0.97
of the variance (anomalib's PCA: SVD of the centred bank), FRE score with the anomaly map
upsampled bilinearly to 256x256 (align_corners=False), image AUROC.

Stages are timed like ours: decode (PIL open + convert + resize + normalise, one image at a
time in this thread, as a DataLoader with num_workers=0 does), backbone (batches of 16 under
inference_mode), fit (PCA), score (FRE + maps). Prints one JSON document on stdout.

Run: /usr/bin/python3 bench/dfm_torch.py --data DIR --weights FILE [--batch 16] [--threads N]
(Debian's python3-torch; no other package needed: the safetensors file is parsed with numpy.)
"""
import argparse
import glob
import json
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def load_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = {"F32": np.float32, "F64": np.float64, "I64": np.int64}[info["dtype"]]
        out[name] = torch.from_numpy(np.frombuffer(data[start:end], dtype=dtype).reshape(info["shape"]).copy())
    return out


def decode(path, size):
    image = Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR)
    array = (np.asarray(image, dtype=np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def auroc(scores, labels):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    order = scores.argsort()
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="folder with train/good and test/<defect>")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--backbone-iterations", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    t = time.perf_counter()
    model = torchvision.models.resnet18()
    missing, unexpected = model.load_state_dict(load_safetensors(args.weights), strict=False)
    assert not unexpected and all(k.startswith(("layer4.", "fc.")) for k in missing), (missing, unexpected)
    model.eval()
    stem = torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2, model.layer3)
    load_s = time.perf_counter() - t

    train = sorted(glob.glob(os.path.join(args.data, "train", "good", "*.png")))
    test = sorted(glob.glob(os.path.join(args.data, "test", "*", "*.png")))
    labels = [0 if os.path.basename(os.path.dirname(p)) == "good" else 1 for p in test]
    stages = {"decode": 0.0, "backbone": 0.0, "fit": 0.0, "score": 0.0}

    def features(paths):
        out = []
        for i in range(0, len(paths), args.batch):
            t0 = time.perf_counter()
            batch = torch.stack([decode(p, args.size) for p in paths[i : i + args.batch]])
            t1 = time.perf_counter()
            with torch.inference_mode():
                f = F.avg_pool2d(stem(batch), 4)
            stages["decode"] += t1 - t0
            stages["backbone"] += time.perf_counter() - t1
            out.append(f)
        return torch.cat(out)

    wall = time.perf_counter()
    bank = features(train)
    feature_shape = bank.shape[1:]
    bank = bank.flatten(1)
    t0 = time.perf_counter()
    mean = bank.mean(0)
    _, s, vh = torch.linalg.svd(bank - mean, full_matrices=False)
    ratio = torch.cumsum(s * s / (s * s).sum(), 0)
    k = int((ratio < 0.97).sum()) + 1  # sklearn's count (anomalib keeps one fewer)
    components = vh[:k]
    stages["fit"] += time.perf_counter() - t0
    fit_wall = time.perf_counter() - wall

    test_features = features(test)
    t0 = time.perf_counter()
    with torch.inference_mode():
        x = test_features.flatten(1)
        residual = (x - mean) - ((x - mean) @ components.T) @ components
        scores = (residual * residual).sum(1)
        maps = (residual.reshape(-1, *feature_shape) ** 2).sum(1, keepdim=True)
        maps = F.interpolate(maps, size=(args.size, args.size), mode="bilinear", align_corners=False)
    stages["score"] += time.perf_counter() - t0
    total = time.perf_counter() - wall

    # Backbone alone on a fixed batch (warm-up + median), the same measurement as ours.
    x = torch.randn(args.batch, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    times = []
    with torch.inference_mode():
        stem(x)
        for _ in range(args.backbone_iterations):
            t0 = time.perf_counter()
            stem(x)
            times.append(time.perf_counter() - t0)

    print(json.dumps({
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "threads": torch.get_num_threads(),
        "images": {"train": len(train), "test": len(test)},
        "components": k,
        "load_s": load_s,
        "stages_s": stages,
        "fit_s": fit_wall,
        "total_s": total,
        "auroc": auroc(scores.numpy(), labels),
        "backbone_ms_per_image": float(np.median(times)) / args.batch * 1000,
        "scores_check": float(scores.mean()),
    }))


if __name__ == "__main__":
    main()
