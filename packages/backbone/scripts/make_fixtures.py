#!/usr/bin/python3
"""Makes the PyTorch reference fixtures of @dfm/backbone (fixtures/*.safetensors).

Run from packages/backbone with Debian's torch:  /usr/bin/python3 scripts/make_fixtures.py

Nothing random is committed. This script and src/random.ts implement the same counter-based
generator (see src/random.ts for the definition), so both sides build the same input batch
(stream 'input': uniforms in (0,1), NHWC, then ImageNet-normalised in float32) and the same random
weights (one stream per tensor name; He normal conv weights, BatchNorm identity or random).
Real weights come from the shared assets (weights/resnet18-imagenet-layer1-3.safetensors).

Each fixture stores, per layer, the outputs of torchvision's eval-mode network, in NHWC order:
  <layer>.sample       every `step`-th element of the flat NHWC map (step in the metadata)
  <layer>.channel_sum  [B, C]    sum over h, w    (a gross error anywhere changes one of these)
  <layer>.spatial_sum  [B, h, w] sum over C       (and one of these)
  <layer>.max_abs      [1]       max |feature| over the full map (the tolerance's scale)
avgpool is stored whole as avgpool.full [B, C]. Metadata: script, torch version, case JSON.
The safetensors files are written by hand here (no safetensors package), which also checks the
TypeScript reader against an independent writer.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)
OUT = os.path.join(PACKAGE, 'fixtures')
SCRIPT = 'packages/backbone/scripts/make_fixtures.py'
ASSET = 'weights/resnet18-imagenet-layer1-3.safetensors'
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
M32 = 0xFFFFFFFF


# ---- the generator (identical to src/random.ts) ---------------------------------------------
def hash32_scalar(x):
    x &= M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    x ^= x >> 16
    return x


def hash32(x):
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def fnv1a32(text):
    h = 0x811C9DC5
    for byte in text.encode('utf-8'):
        h ^= byte
        h = (h * 0x01000193) & M32
    return h


def words(n, seed, name):
    key = hash32_scalar((seed & M32) ^ fnv1a32(name))
    i = np.arange(1, n + 1, dtype=np.uint64)
    return hash32(((np.uint64(key) + i * np.uint64(0x9E3779B9)) & np.uint64(M32)).astype(np.uint32))


def uniforms(n, seed, name):
    return (words(n, seed, name).astype(np.float64) + 0.5) / 4294967296.0


def normals(n, seed, name):
    u = uniforms(2 * n, seed, name)
    return np.sqrt(-2 * np.log(u[0::2])) * np.cos(2 * np.pi * u[1::2])


def random_uniform(n, seed, name, low=0.0, high=1.0):
    return (low + (high - low) * uniforms(n, seed, name)).astype(np.float32)


def random_normal(n, seed, name, mean=0.0, std=1.0):
    return (mean + std * normals(n, seed, name)).astype(np.float32)


# ---- networks --------------------------------------------------------------------------------
def build(arch):
    return getattr(torchvision.models, arch)(weights=None).eval()


def random_state(model, seed, batch_norm):
    """Same as src/random-weights.ts: every conv weight and BN vector from its own stream."""
    state = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            o, i, kh, kw = module.weight.shape
            fan_out = o * kh * kw
            w = random_normal(o * i * kh * kw, seed, name + '.weight', 0.0, float(np.sqrt(2.0 / fan_out)))
            state[name + '.weight'] = torch.from_numpy(w.reshape(o, i, kh, kw))
        elif isinstance(module, torch.nn.BatchNorm2d):
            c = module.num_features
            if batch_norm == 'identity':
                vals = {'weight': np.ones(c), 'bias': np.zeros(c), 'running_mean': np.zeros(c), 'running_var': np.ones(c)}
            else:
                vals = {
                    'weight': random_normal(c, seed, name + '.weight', 1.0, 0.1),
                    'bias': random_normal(c, seed, name + '.bias', 0.0, 0.1),
                    'running_mean': random_normal(c, seed, name + '.running_mean', 0.0, 0.1),
                    'running_var': random_uniform(c, seed, name + '.running_var', 0.5, 1.5),
                }
            for key, value in vals.items():
                state[name + '.' + key] = torch.from_numpy(np.asarray(value, dtype=np.float32))
    return state


def read_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, entry in header.items():
        if name == '__metadata__':
            continue
        assert entry['dtype'] == 'F32', entry
        begin, end = entry['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[begin:end], dtype='<f4').astype(np.float32).reshape(entry['shape']))
    return out


def write_safetensors(path, tensors, metadata):
    header = {'__metadata__': metadata}
    blobs = []
    offset = 0
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        dtype = {np.dtype('float32'): 'F32', np.dtype('float64'): 'F64'}[array.dtype]
        blob = array.astype(array.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(array.shape), 'data_offsets': [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def features(model, x, last_stage):
    out = {}
    with torch.no_grad():
        h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        for s in range(1, last_stage + 1):
            h = getattr(model, 'layer%d' % s)(h)
            out['layer%d' % s] = h
        if last_stage == 4:
            out['avgpool'] = torch.flatten(model.avgpool(h), 1)
    return out


def input_batch(seed, batch, height, width):
    x = random_uniform(batch * height * width * 3, seed, 'input').reshape(batch, height, width, 3)
    x = (x - MEAN) / STD  # float32, as normalizeImageNet
    return x.astype(np.float32)


def make_case(case, assets_dir):
    arch, layers = case['architecture'], case['layers']
    last_stage = max(4 if l == 'avgpool' else int(l[5:]) for l in layers)
    model = build(arch)
    if case['weights'] == 'asset':
        state = read_safetensors(os.path.join(assets_dir, ASSET))
    else:
        state = random_state(model, case['seed'], case['batch_norm'])
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    needed_missing = [k for k in missing if 'num_batches' not in k and not k.startswith('fc.')
                      and not (k.startswith('layer') and int(k[5]) > last_stage)]
    assert not needed_missing, needed_missing
    b, h, w = case['input']['shape'][:3]
    x = input_batch(case['input']['seed'], b, h, w)
    out = features(model, torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), last_stage)
    tensors = {}
    steps = {}
    for layer in layers:
        f = out[layer].numpy().astype(np.float32)
        if layer == 'avgpool':
            tensors['avgpool.full'] = f
            continue
        nhwc = np.ascontiguousarray(f.transpose(0, 2, 3, 1))
        flat = nhwc.reshape(-1)
        step = max(1, -(-flat.size // case['sample_cap']))
        steps[layer] = {'shape': list(nhwc.shape), 'step': step}
        tensors[layer + '.sample'] = flat[::step].copy()
        tensors[layer + '.channel_sum'] = nhwc.astype(np.float64).sum(axis=(1, 2)).astype(np.float32)
        tensors[layer + '.spatial_sum'] = nhwc.astype(np.float64).sum(axis=3).astype(np.float32)
        tensors[layer + '.max_abs'] = np.array([np.abs(flat).max()], dtype=np.float32)
    meta = {
        'script': SCRIPT,
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'case': json.dumps(case, sort_keys=True),
        'layers': json.dumps(steps, sort_keys=True),
        'layout': 'NHWC; sample = flat[::step]; channel_sum [B,C] over h,w; spatial_sum [B,h,w] over C; avgpool.full [B,C]',
    }
    path = os.path.join(OUT, case['name'] + '.safetensors')
    write_safetensors(path, tensors, meta)
    print('%-40s %8d bytes  %s' % (case['name'], os.path.getsize(path), ', '.join('%s %s' % (k, v['shape']) for k, v in steps.items())))


CASES = [
    # Acceptance 1: the real ImageNet weights, 256x256 (wasm) and 64x64 (cpu).
    dict(name='resnet18-imagenet-256', architecture='resnet18', weights='asset', layers=['layer1', 'layer2', 'layer3'],
         input=dict(seed=1, shape=[2, 256, 256, 3]), sample_cap=16384),
    dict(name='resnet18-imagenet-64', architecture='resnet18', weights='asset', layers=['layer1', 'layer2', 'layer3'],
         input=dict(seed=2, shape=[2, 64, 64, 3]), sample_cap=16384),
    # Acceptance 2 and BatchNorm folding: random weights, torchvision init or random BN statistics.
    dict(name='resnet34-random-64', architecture='resnet34', weights='random', seed=7, batch_norm='identity',
         layers=['layer1', 'layer2', 'layer3', 'layer4', 'avgpool'], input=dict(seed=3, shape=[2, 64, 64, 3]), sample_cap=4096),
    dict(name='resnet50-random-bn-64', architecture='resnet50', weights='random', seed=11, batch_norm='random',
         layers=['layer1', 'layer2', 'layer3', 'layer4', 'avgpool'], input=dict(seed=4, shape=[2, 64, 64, 3]), sample_cap=4096),
    dict(name='wide_resnet50_2-random-bn-64', architecture='wide_resnet50_2', weights='random', seed=13, batch_norm='random',
         layers=['layer1', 'layer2', 'layer3', 'layer4', 'avgpool'], input=dict(seed=5, shape=[2, 64, 64, 3]), sample_cap=4096),
    # Odd sizes: PyTorch's symmetric padding and floor rounding.
    dict(name='resnet18-random-bn-65x47', architecture='resnet18', weights='random', seed=17, batch_norm='random',
         layers=['layer1', 'layer2', 'layer3', 'layer4', 'avgpool'], input=dict(seed=6, shape=[1, 65, 47, 3]), sample_cap=4096),
]


def prng_fixture():
    """Exact values of the generator, so a drift between the two implementations fails first."""
    tensors = {
        'words': words(8, 1, 'check').astype(np.float64),
        'uniforms': uniforms(8, 1, 'check'),
        'normals': normals(8, 2, 'check'),
        'words_seed_max': words(4, 0xFFFFFFFF, 'layer1.0.conv1.weight').astype(np.float64),
    }
    write_safetensors(os.path.join(OUT, 'prng.safetensors'), tensors,
                      {'script': SCRIPT, 'what': 'words(8,1,check), uniforms(8,1,check), normals(8,2,check), words(4,2^32-1,layer1.0.conv1.weight)'})


def main():
    assets_dir = os.environ.get('DFM_ASSETS_DIR') or os.path.join(PACKAGE, '..', '..', '..', 'shared', 'assets')
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.makedirs(OUT, exist_ok=True)
    prng_fixture()
    only = sys.argv[1:]
    for case in CASES:
        if not only or case['name'] in only:
            make_case(case, assets_dir)


if __name__ == '__main__':
    main()
