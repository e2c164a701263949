#!/usr/bin/python3
"""PyTorch peer of bench/backbone.bench.ts: ms per 256x256 image up to layer3 (eval, no grad).

Prints one JSON object: {"torch": version, "threads": n, "results": [{"model", "batch", "msPerImage"}]}.
Usage: /usr/bin/python3 bench/backbone_torch.py --models resnet18,resnet50 --batches 1,16 --iterations 2
"""
import argparse
import json
import os
import time

import torch
import torchvision


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--models', default='resnet18,resnet50')
    parser.add_argument('--batches', default='1,16')
    parser.add_argument('--iterations', type=int, default=2)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--threads', type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    for name in args.models.split(','):
        model = getattr(torchvision.models, name)(weights=None).eval()
        stem = torch.nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2, model.layer3)
        for batch in [int(b) for b in args.batches.split(',')]:
            x = torch.randn(batch, 3, args.size, args.size)
            with torch.inference_mode():
                stem(x)  # warm-up
                times = []
                for _ in range(args.iterations):
                    start = time.perf_counter()
                    stem(x)
                    times.append(time.perf_counter() - start)
            times.sort()
            results.append({'model': name, 'batch': batch, 'msPerImage': 1000 * times[len(times) // 2] / batch})
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(), 'results': results}))


if __name__ == '__main__':
    main()
