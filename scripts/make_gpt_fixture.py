#!/usr/bin/env python3
"""Make PyTorch reference fixtures for Anneal's NN tests: a tiny GPT and a tiny MLP.

How to run (from the repository root):
    python3 -m venv /root/refenv
    /root/refenv/bin/pip install torch numpy safetensors     # CPU torch wheel is enough
    /root/refenv/bin/python scripts/make_gpt_fixture.py [--out Tests/AnnealNNTests/Resources]

Writes into --out:
    gpt_small.safetensors, gpt_small_expected.json
    mlp_small.safetensors, mlp_small_expected.json

GPT: the Block/GPT classes below are copied verbatim from the project's shared
benchmark contract (shared/peers/torch_workloads.py), with a small config
V=11, T=8, d=16, L=2, h=2.  Tensor names are the PyTorch state_dict names
(tok.weight, pos.weight, blocks.0.ln1.weight, blocks.0.qkv.weight, ...,
lnf.weight, head.weight).  Weights are float32.  Notes for a re-implementation:
  * nn.Linear stores weight as [out, in]; y = x @ W^T + b.
  * LayerNorm eps = 1e-5 (biased variance).
  * attention: qkv split along features into q,k,v (each d wide), heads are
    contiguous slices of d/h features; causal softmax(q k^T / sqrt(d/h)) v.
  * F.gelu is the exact erf GELU (not the tanh approximation).
The JSON logits are computed in float32 ("logits") and, from the same weights
cast to float64, in float64 ("logits_f64").

MLP: nn.Sequential(Linear(8,16), ReLU, Linear(16,16), ReLU, Linear(16,3)),
names 0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias; input x [4, 8].
"""
import argparse
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file


# ---- copied from shared/peers/torch_workloads.py (benchmark contract) ----
class Block(nn.Module):
    def __init__(s, d, h):
        super().__init__()
        s.ln1 = nn.LayerNorm(d); s.ln2 = nn.LayerNorm(d)
        s.qkv = nn.Linear(d, 3 * d); s.proj = nn.Linear(d, d)
        s.fc = nn.Linear(d, 4 * d); s.out = nn.Linear(4 * d, d); s.h = h
    def forward(s, x):
        B, T, C = x.shape
        q, k, v = s.qkv(s.ln1(x)).split(C, dim=2)
        q = q.view(B, T, s.h, C // s.h).transpose(1, 2)
        k = k.view(B, T, s.h, C // s.h).transpose(1, 2)
        v = v.view(B, T, s.h, C // s.h).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + s.proj(a.transpose(1, 2).reshape(B, T, C))
        return x + s.out(F.gelu(s.fc(s.ln2(x))))


class GPT(nn.Module):
    def __init__(s, V=65, T=64, d=128, L=4, h=4):
        super().__init__()
        s.tok = nn.Embedding(V, d); s.pos = nn.Embedding(T, d)
        s.blocks = nn.ModuleList([Block(d, h) for _ in range(L)])
        s.lnf = nn.LayerNorm(d); s.head = nn.Linear(d, V, bias=False)
    def forward(s, idx):
        B, T = idx.shape
        x = s.tok(idx) + s.pos(torch.arange(T))
        for b in s.blocks:
            x = b(x)
        return s.head(s.lnf(x))
# ---- end of copy ----


SEED = 1234


def tensor_json(t):
    t = t.detach()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def randomize_norms(model, gen):
    """LayerNorm starts at weight=1, bias=0; perturb so a test notices if the
    affine part is dropped or swapped."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.add_(0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.add_(0.2 * torch.randn(m.bias.shape, generator=gen))


def save_state(model, path):
    sd = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    # a single metadata key: safetensors writes several keys in a random order
    save_file(sd, path, metadata={"format": "pt"})
    os.chmod(path, 0o644)
    return list(sd.keys())


def make_gpt(out):
    cfg = dict(V=11, T=8, d=16, L=2, h=2)
    torch.manual_seed(SEED)
    model = GPT(**cfg).float().eval()
    gen = torch.Generator().manual_seed(SEED + 1)
    randomize_norms(model, gen)
    ids = torch.randint(0, cfg["V"], (2, cfg["T"]), generator=gen)
    with torch.no_grad():
        logits = model(ids)
        logits64 = model.double()(ids)
    model.float()
    names = save_state(model, os.path.join(out, "gpt_small.safetensors"))
    doc = {
        "generator": "scripts/make_gpt_fixture.py",
        "torch_version": torch.__version__,
        "seed": SEED,
        "config": {**cfg, "layer_norm_eps": 1e-5, "gelu": "erf", "causal": True,
                   "head_bias": False, "dtype": "float32"},
        "tensor_names": names,
        "input_ids": ids.tolist(),
        "logits": tensor_json(logits),
        "logits_f64": tensor_json(logits64),
    }
    with open(os.path.join(out, "gpt_small_expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
    print("gpt:", len(names), "tensors; logits", tuple(logits.shape),
          "max |f32-f64| =", float((logits.double() - logits64).abs().max()))


def make_mlp(out):
    sizes = [8, 16, 16, 3]
    torch.manual_seed(SEED + 2)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)).float()
    gen = torch.Generator().manual_seed(SEED + 3)
    x = torch.randn(4, 8, generator=gen)
    with torch.no_grad():
        y = model(x)
        y64 = model.double()(x.double())
    model.float()
    names = save_state(model, os.path.join(out, "mlp_small.safetensors"))
    doc = {
        "generator": "scripts/make_gpt_fixture.py",
        "torch_version": torch.__version__,
        "seed": SEED + 2,
        "config": {"sizes": sizes, "activation": "relu",
                   "layers": "Linear(8,16) ReLU Linear(16,16) ReLU Linear(16,3)", "dtype": "float32"},
        "tensor_names": names,
        "x": tensor_json(x),
        "output": tensor_json(y),
        "output_f64": tensor_json(y64),
    }
    with open(os.path.join(out, "mlp_small_expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
    print("mlp:", names, "out", tuple(y.shape))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(here, "..", "Tests", "AnnealNNTests", "Resources"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    torch.set_num_threads(1)
    make_gpt(a.out)
    make_mlp(a.out)


if __name__ == "__main__":
    main()
