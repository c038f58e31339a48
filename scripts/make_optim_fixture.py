#!/usr/bin/env python3
"""Make PyTorch optimizer / clipping / LR-schedule reference trajectories for AnnealOptim tests.

How to run (from the repository root):
    python3 -m venv /root/refenv
    /root/refenv/bin/pip install torch numpy              # CPU torch wheel is enough
    /root/refenv/bin/python scripts/make_optim_fixture.py [--out Tests/AnnealOptimTests/Resources/optim_trajectories.json]

The problem (also written into the JSON under "problem"):
    A Linear layer 3 -> 2, pred = X @ W^T + b, W [2,3], b [2];
    loss = mean over all 4x2 elements of (pred - Y)^2  (F.mse_loss, reduction "mean").
    X [4,3], Y [4,2], W0, b0 are fixed numbers below; all are multiples of 1/16, so
    float32 and float64 runs start from identical values.
    Both W and b are in ONE parameter group (weight decay applies to the bias too).
Each step k = 1..5:  zero grads; loss_k = loss(current params); backward;
    [clip_grad_norm_ if the config clips]; optimizer.step(); [scheduler.step()];
    record loss_k (BEFORE the update), the grads used, the lr used, and W, b AFTER the update.
"steps" is the float64 run, "steps_f32" the float32 run of the same config.
"""
import argparse
import json
import math
import os

import torch
import torch.nn.functional as F

W0 = [[0.5, -0.25, 0.125], [-0.375, 0.75, 0.25]]
B0 = [0.0625, -0.125]
X = [[1.0, 2.0, -1.0], [0.5, -1.5, 2.0], [-2.0, 0.25, 1.0], [1.5, 1.0, 0.5]]
Y = [[1.0, -1.0], [0.5, 2.0], [-1.5, 0.25], [2.0, 1.0]]
NSTEPS = 5

WARMUP, TOTAL = 3, 10
WARMUP_COSINE_FORMULA = (
    "lr(s) = base_lr * f(s), s = 0,1,2,... (number of scheduler.step() calls so far); "
    "f(s) = s / max(1, warmup) if s < warmup, else "
    "max(0, 0.5 * (1 + cos(pi * (s - warmup) / max(1, total - warmup))))"
)


def warmup_cosine(s, warmup=WARMUP, total=TOTAL):
    if s < warmup:
        return float(s) / float(max(1, warmup))
    progress = float(s - warmup) / float(max(1, total - warmup))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


def compact_json(doc):
    """indent=1 JSON, but every list of numbers on one line (keeps the file small and diffable)."""
    import re
    text = json.dumps(doc, indent=1)
    text = re.sub(r"\[\s*([-0-9.eE+,\s]+?)\s*\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    text = re.sub(r'\{\s*"shape": (\[[^\]]*\]),\s*"data": (\[[^\]]*\])\s*\}', r'{"shape": \1, "data": \2}', text)
    return text + "\n"


def T(x):
    return {"shape": list(x.shape), "data": [float(v) for v in x.detach().reshape(-1).tolist()]}


# name -> (optimizer class name, kwargs, extras)
CONFIGS = [
    ("sgd", "SGD", dict(lr=0.1), {}),
    ("sgd_momentum", "SGD", dict(lr=0.1, momentum=0.9), {}),
    ("sgd_nesterov", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True), {}),
    ("sgd_momentum_dampening_wd", "SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01), {}),
    ("adam", "Adam", dict(lr=0.1), {}),
    ("adam_wd", "Adam", dict(lr=0.1, weight_decay=0.01), {}),
    # AMSGrad equals Adam until some v shrinks; on this problem that first happens at step 8
    ("adam_amsgrad", "Adam", dict(lr=0.1, amsgrad=True), {"num_steps": 10}),
    ("adam_10_steps", "Adam", dict(lr=0.1), {"num_steps": 10}),
    ("adamw", "AdamW", dict(lr=0.1), {}),
    ("adamw_custom", "AdamW", dict(lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), {}),
    ("sgd_clip_norm", "SGD", dict(lr=0.1), {"clip_grad_norm": 0.5}),
    ("sgd_momentum_clip_norm", "SGD", dict(lr=0.1, momentum=0.9), {"clip_grad_norm": 0.5}),
    # max_norm between the grad norms seen: some steps clip, some do not
    ("sgd_clip_norm_partial", "SGD", dict(lr=0.1, momentum=0.9), {"clip_grad_norm": 2.5}),
    ("sgd_momentum_warmup_cosine", "SGD", dict(lr=0.1, momentum=0.9), {"schedule": "warmup_cosine"}),
    ("adamw_step_lr", "AdamW", dict(lr=0.1), {"schedule": "step_lr"}),
]

NOTES = {
    "SGD": "PyTorch SGD: g = grad + wd*p; if momentum: buf = g on the first step, else buf = momentum*buf + (1-dampening)*g; "
           "g = g + momentum*buf if nesterov else buf; p -= lr*g.",
    "Adam": "PyTorch Adam (L2): g = grad + wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; "
            "[amsgrad: vmax = max(vmax, v), use vmax]; p -= (lr/(1-b1^t)) * m / (sqrt(v)/sqrt(1-b2^t) + eps).",
    "AdamW": "PyTorch AdamW (decoupled): p *= (1 - lr*wd) first, then the Adam update with g = grad.",
    "clip_grad_norm": "total = sqrt(sum of squares of all grads); coef = max_norm/(total + 1e-6); if coef < 1 every grad *= coef.",
}


def full_hyper(opt):
    g = opt.param_groups[0]
    keep = ["lr", "momentum", "dampening", "weight_decay", "nesterov", "betas", "eps", "amsgrad", "maximize"]
    return {k: (list(g[k]) if isinstance(g[k], tuple) else g[k]) for k in keep if k in g}


def run(opt_name, kw, extra, dtype):
    W = torch.tensor(W0, dtype=dtype, requires_grad=True)
    b = torch.tensor(B0, dtype=dtype, requires_grad=True)
    x = torch.tensor(X, dtype=dtype)
    y = torch.tensor(Y, dtype=dtype)
    opt = getattr(torch.optim, opt_name)([W, b], foreach=False, **kw)
    sched = None
    if extra.get("schedule") == "warmup_cosine":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine)
    elif extra.get("schedule") == "step_lr":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    steps = []
    for _ in range(extra.get("num_steps", NSTEPS)):
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(x @ W.T + b, y)
        loss.backward()
        rec = {"loss": loss.item(), "lr": float(opt.param_groups[0]["lr"])}
        if "clip_grad_norm" in extra:
            tn = torch.nn.utils.clip_grad_norm_([W, b], max_norm=extra["clip_grad_norm"])
            rec["grad_norm_before_clip"] = float(tn)
        rec["grad_weight"] = T(W.grad)
        rec["grad_bias"] = T(b.grad)
        opt.step()
        if sched is not None:
            sched.step()
        rec["weight"] = T(W)
        rec["bias"] = T(b)
        steps.append(rec)
    with torch.no_grad():
        final = float(F.mse_loss(x @ W.T + b, y))
    return full_hyper(opt) | ({"lr": kw["lr"]}), steps, final


def schedules():
    out = {}
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    s = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine)
    lrs = []
    for _ in range(TOTAL + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step(); s.step()
    out["warmup_cosine"] = {"scheduler": "LambdaLR", "base_lr": 0.1, "warmup": WARMUP, "total": TOTAL,
                            "formula": WARMUP_COSINE_FORMULA,
                            "lrs": lrs, "lrs_meaning": "lrs[i] = lr used by the i-th optimizer.step() (0-based)"}
    opt = torch.optim.SGD([p], lr=0.1)
    s = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step(); s.step()
    out["step_lr"] = {"scheduler": "StepLR", "base_lr": 0.1, "step_size": 2, "gamma": 0.5,
                      "formula": "lr(s) = base_lr * gamma ** floor(s / step_size)",
                      "lrs": lrs, "lrs_meaning": "lrs[i] = lr used by the i-th optimizer.step() (0-based)"}
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(here, "..", "Tests", "AnnealOptimTests", "Resources",
                                                  "optim_trajectories.json"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    problem = {
        "model": "Linear 3->2: pred = X @ W^T + b, W shape [2,3] (row-major), b shape [2]",
        "loss": "mean over all elements of (pred - Y)^2  (torch.nn.functional.mse_loss, reduction='mean'); "
                "grad_pred = 2*(pred - Y)/8",
        "X": {"shape": [4, 3], "data": sum(X, [])},
        "Y": {"shape": [4, 2], "data": sum(Y, [])},
        "init_weight": {"shape": [2, 3], "data": sum(W0, [])},
        "init_bias": {"shape": [2], "data": B0},
        "param_groups": "one group [W, b]; weight decay applies to both",
        "steps": f"{NSTEPS} unless the config's hyper.num_steps says otherwise",
        "step_procedure": "for k in 1..steps: zero grads; loss_k = loss(params); backward; "
                          "[clip_grad_norm_(all params, max_norm) if hyper.clip_grad_norm]; optimizer.step(); "
                          "[scheduler.step() if hyper.schedule]; record loss_k (before the update), lr used, "
                          "grads used (after clipping), weight and bias (after the update)",
        "runs": "'steps' = float64 run, 'steps_f32' = float32 run from the same (exactly representable) init",
    }
    doc = {"generator": "scripts/make_optim_fixture.py", "torch_version": torch.__version__,
           "problem": problem, "notes": NOTES, "schedules": schedules(), "configs": {}}
    init = {"weight": problem["init_weight"], "bias": problem["init_bias"]}
    data = {"X": problem["X"], "Y": problem["Y"]}
    for name, opt_name, kw, extra in CONFIGS:
        hyper, steps64, final64 = run(opt_name, kw, extra, torch.float64)
        _, steps32, final32 = run(opt_name, kw, extra, torch.float32)
        hyper = dict(hyper, **extra)
        if extra.get("schedule"):
            hyper["schedule_spec"] = {k: v for k, v in doc["schedules"][extra["schedule"]].items()
                                      if k not in ("lrs", "lrs_meaning")}
        doc["configs"][name] = {"optimizer": opt_name, "hyper": hyper, "init": init, "data": data,
                                "steps": steps64, "final_loss": final64,
                                "steps_f32": steps32, "final_loss_f32": final32}
        print(f"{name:28s} loss {steps64[0]['loss']:.5f} -> {final64:.6f}  (f32 {final32:.6f})"
              + (f"  grad norms {[round(s['grad_norm_before_clip'], 3) for s in steps64]}" if "clip_grad_norm" in extra else ""))
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(compact_json(doc))
    print("wrote", a.out, os.path.getsize(a.out), "bytes")


if __name__ == "__main__":
    main()
