#!/usr/bin/python3
"""PyTorch peer for `make bench`: the same Llama-shaped model (RMSNorm, RoPE on interleaved
pairs, grouped-query attention, SwiGLU) with random weights, prefill of P tokens as one batch
and decode of N tokens one at a time with a KV cache, median over repetitions. Prints JSON."""
import argparse, json, statistics, time

import torch_threads  # noqa: F401  (before torch: sets how its threads wait)

import torch

p = argparse.ArgumentParser()
p.add_argument("--dim", type=int, default=288)
p.add_argument("--layers", type=int, default=6)
p.add_argument("--heads", type=int, default=6)
p.add_argument("--kv-heads", type=int, default=0)
p.add_argument("--hidden", type=int, default=768)
p.add_argument("--vocab", type=int, default=32000)
p.add_argument("-p", type=int, default=256)
p.add_argument("-n", type=int, default=128)
p.add_argument("-t", type=int, default=2)
p.add_argument("-r", type=int, default=3)
a = p.parse_args()
torch.set_num_threads(a.t)
torch.manual_seed(0)
kvh = a.kv_heads or a.heads
dh = a.dim // a.heads
ctx = a.p + a.n


def w(*shape):
    return torch.randn(*shape) * 0.02


emb = w(a.vocab, a.dim)
L = [dict(an=torch.ones(a.dim), wq=w(a.dim, a.dim), wk=w(kvh * dh, a.dim), wv=w(kvh * dh, a.dim),
          wo=w(a.dim, a.dim), fn=torch.ones(a.dim), w1=w(a.hidden, a.dim), w2=w(a.dim, a.hidden),
          w3=w(a.hidden, a.dim)) for _ in range(a.layers)]
fnorm = torch.ones(a.dim)
freqs = 1.0 / (10000.0 ** (torch.arange(0, dh, 2).float() / dh))
ang = torch.outer(torch.arange(ctx).float(), freqs)
cos, sin = ang.cos(), ang.sin()


def rms(x, g):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * g


def rope(x, pos):  # x (T, H, dh), interleaved pairs
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[pos][:, None, :], sin[pos][:, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), -1).flatten(-2)


def forward(tokens, start, kc, vc):
    T = tokens.shape[0]
    pos = torch.arange(start, start + T)
    x = emb[tokens]
    for i, l in enumerate(L):
        h = rms(x, l["an"])
        q = rope((h @ l["wq"].T).view(T, a.heads, dh), pos)
        k = rope((h @ l["wk"].T).view(T, kvh, dh), pos)
        v = (h @ l["wv"].T).view(T, kvh, dh)
        kc[i][start:start + T] = k
        vc[i][start:start + T] = v
        K = kc[i][:start + T].repeat_interleave(a.heads // kvh, 1).transpose(0, 1)
        V = vc[i][:start + T].repeat_interleave(a.heads // kvh, 1).transpose(0, 1)
        s = (q.transpose(0, 1) @ K.transpose(1, 2)) / dh ** 0.5
        mask = torch.full((T, start + T), float("-inf")).triu(start + 1)
        o = torch.softmax(s + mask, -1) @ V
        x = x + o.transpose(0, 1).reshape(T, a.dim) @ l["wo"].T
        h = rms(x, l["fn"])
        x = x + (torch.nn.functional.silu(h @ l["w1"].T) * (h @ l["w3"].T)) @ l["w2"].T
    return rms(x[-1:], fnorm) @ emb.T


def cache():
    return [torch.zeros(ctx, kvh, dh) for _ in range(a.layers)], [torch.zeros(ctx, kvh, dh) for _ in range(a.layers)]


toks = torch.randint(0, a.vocab, (ctx,))
pp, tg = [], []
with torch.inference_mode():
    for rep in range(a.r + 1):
        kc, vc = cache()
        t0 = time.perf_counter()
        forward(toks[:a.p], 0, kc, vc)
        t1 = time.perf_counter()
        kc, vc = cache()
        for i in range(a.n):
            forward(toks[i:i + 1], i, kc, vc)
        t2 = time.perf_counter()
        if rep:
            pp.append(a.p / (t1 - t0))
            tg.append(a.n / (t2 - t1))
print(json.dumps({"prefill_tok_s": statistics.median(pp), "decode_tok_s": statistics.median(tg), "threads": a.t}))
