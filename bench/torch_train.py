#!/usr/bin/python3
"""PyTorch peer for bench_train: the same Llama-shaped model (RMSNorm, RoPE on interleaved pairs,
causal attention, SwiGLU, classifier tied to the embedding) with random weights, one forward +
cross-entropy + backward per step on a fixed [batch, seq] of random tokens, no optimizer update.
Prints JSON with tokens/s and the process's peak resident memory."""
import argparse, json, resource, time

import torch_threads  # noqa: F401  (before torch: sets how its threads wait)

import torch
import torch.nn.functional as F

SHAPES = {"15m": dict(dim=288, layers=6, heads=6, hidden=768, vocab=512),
          "110m": dict(dim=768, layers=12, heads=12, hidden=2048, vocab=32000)}

p = argparse.ArgumentParser()
p.add_argument("shape", nargs="?", default="15m", choices=sorted(SHAPES))
p.add_argument("--batch", type=int, default=4)
p.add_argument("--seq", type=int, default=256)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--vocab", type=int, default=0)
a = p.parse_args()
s = dict(SHAPES[a.shape])
if a.vocab:
    s["vocab"] = a.vocab
torch.set_num_threads(a.threads)
torch.manual_seed(0)
D, NL, H, HID, V, B, T = s["dim"], s["layers"], s["heads"], s["hidden"], s["vocab"], a.batch, a.seq
dh = D // H


def w(*shape):
    return (torch.randn(*shape) * 0.02).requires_grad_()


def ones(n):
    return torch.ones(n).requires_grad_()


emb = w(V, D)
L = [dict(an=ones(D), wq=w(D, D), wk=w(D, D), wv=w(D, D), wo=w(D, D), fn=ones(D), w1=w(HID, D), w2=w(D, HID),
          w3=w(HID, D)) for _ in range(NL)]
fnorm = ones(D)
params = [emb, fnorm] + [t for l in L for t in l.values()]
freqs = 1.0 / (10000.0 ** (torch.arange(0, dh, 2).float() / dh))
ang = torch.outer(torch.arange(T).float(), freqs)
cos, sin = ang.cos()[None, :, None, :], ang.sin()[None, :, None, :]
mask = torch.full((T, T), float("-inf")).triu(1)


def rms(x, g):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * g


def rope(x):  # (B, T, H, dh), interleaved pairs
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), -1).flatten(-2)


def loss_fn(tokens, targets):
    x = emb[tokens]
    for l in L:
        h = rms(x, l["an"])
        q = rope((h @ l["wq"].T).view(B, T, H, dh)).transpose(1, 2)
        k = rope((h @ l["wk"].T).view(B, T, H, dh)).transpose(1, 2)
        v = (h @ l["wv"].T).view(B, T, H, dh).transpose(1, 2)
        att = (q @ k.transpose(-1, -2)) * (dh ** -0.5) + mask
        z = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + z @ l["wo"].T
        h = rms(x, l["fn"])
        x = x + (F.silu(h @ l["w1"].T) * (h @ l["w3"].T)) @ l["w2"].T
    logits = rms(x, fnorm) @ emb.T
    return F.cross_entropy(logits.view(-1, V), targets.reshape(-1))


g = torch.Generator().manual_seed(7)
data = torch.randint(0, V, (B, T + 1), generator=g)
tokens, targets = data[:, :-1], data[:, 1:]
times = []
for step in range(a.steps + 1):
    t0 = time.perf_counter()
    for p_ in params:
        p_.grad = None
    loss = loss_fn(tokens, targets)
    loss.backward()
    dt = time.perf_counter() - t0
    if step > 0:  # the first step is a warm-up
        times.append(dt)
mean = sum(times) / len(times)
print(json.dumps({"engine": "pytorch", "torch": torch.__version__, "shape": a.shape,
                  "params": sum(p_.numel() for p_ in params), "vocab": V, "batch": B, "seq": T,
                  "threads": a.threads, "steps": a.steps, "step_ms_mean": round(mean * 1e3, 1),
                  "step_ms_best": round(min(times) * 1e3, 1), "tokens_per_s": round(B * T / mean),
                  "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                  "loss": round(loss.item(), 4)}))
