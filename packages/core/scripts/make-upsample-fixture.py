#!/usr/bin/python3
"""Reference for DFM anomaly-map upsampling: torch.nn.functional.interpolate(mode='bilinear',
align_corners=False) on seeded random maps. Writes packages/core/test/fixtures/upsample.json.
Seed: 20261122 (numpy default_rng)."""
import json, os
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(20261122)
cases = []
for (b, h, w, H, W) in [(2, 4, 4, 16, 16), (1, 5, 3, 17, 9), (3, 16, 16, 256, 256), (1, 1, 1, 8, 8)]:
    x = rng.random((b, 1, h, w), dtype=np.float64).astype(np.float32)
    y = F.interpolate(torch.from_numpy(x), size=(H, W), mode='bilinear', align_corners=False).numpy()
    cases.append({'in_shape': [b, h, w], 'out_shape': [b, H, W], 'input': x.ravel().tolist(),
                  'expected_sum': float(y.astype(np.float64).sum()),
                  'expected': y.ravel()[::max(1, y.size // 4096)].tolist(), 'stride': max(1, y.size // 4096)})
out = {'header': {'script': 'packages/core/scripts/make-upsample-fixture.py', 'seed': 20261122,
                  'torch': torch.__version__, 'note': 'expected is output.ravel()[::stride] (NCHW with C=1 == NHW)'},
       'cases': cases}
json.dump(out, open(os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'upsample.json'), 'w'))
print('ok', [c['stride'] for c in cases])
