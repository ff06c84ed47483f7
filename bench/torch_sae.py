#!/usr/bin/python3
"""PyTorch peer for bench/sae.sh: trains the same TopK SAE as bench_sae (SAELens-style: encoder
W_enc [d_in, d_sae] initialised as the decoder's transpose, b_dec subtracted from the input,
ReLU then top-k, unit-norm decoder rows with the radial gradient removed before each Adam step
and the rows renormalised after it, input scaled to mean squared norm d_in, AuxK on dead latents)
on the same kind of synthetic activations, and prints training tokens/s and peak RSS as JSON.

--decode dense (the default) decodes as SAELens does: the codes scattered into a dense
[batch, d_sae] matrix times W_dec. --decode bag uses embedding_bag over the k active rows,
as sparsify does on CPU: a sparse decoder, as a second and stronger reference point."""
import argparse, json, resource, time

import torch_threads  # noqa: F401  (before torch: sets how its threads wait)

import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--d-in", type=int, default=64)
p.add_argument("--latents", type=int, default=1024)
p.add_argument("--k", type=int, default=16)
p.add_argument("--batch", type=int, default=4096)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--rows", type=int, default=65536)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--decode", choices=["dense", "bag"], default="dense")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
d, n, k, B = a.d_in, a.latents, a.k, a.batch

# Activations: sparse non-negative mixtures of random unit atoms plus a shared offset and noise,
# the same recipe as bench_sae.c (not the same numbers: speed does not depend on them).
atoms = F.normalize(torch.randn(n, d), dim=1)
rows = torch.randn(a.rows, d) * 0.05 + 1.0
for _ in range(k):
    rows += atoms[torch.randint(0, n, (a.rows,))] * (0.5 + torch.rand(a.rows, 1))
scale = (d / rows.pow(2).sum(1).mean()).sqrt()

W_dec = torch.nn.Parameter(F.normalize(torch.randn(n, d), dim=1))
W_enc = torch.nn.Parameter(W_dec.detach().t().clone())
b_enc = torch.nn.Parameter(torch.zeros(n))
b_dec = torch.nn.Parameter((rows[:B] * scale).mean(0))
lr = 2e-4 / (n / 2**14) ** 0.5
opt = torch.optim.Adam([W_enc, b_enc, W_dec, b_dec], lr=lr, betas=(0.9, 0.999), eps=1e-8)
since_fired = torch.zeros(n, dtype=torch.long)
dead_tokens = 10_000_000
auxk, auxk_coeff = max(d // 2, 1), 1.0 / 32


def decode(idx, vals):
    if a.decode == "bag":
        return F.embedding_bag(idx, W_dec, per_sample_weights=vals, mode="sum") + b_dec
    f = torch.zeros(idx.shape[0], n).scatter_(1, idx, vals)
    return f @ W_dec + b_dec


def step(x):
    global since_fired
    pre = F.relu((x - b_dec) @ W_enc + b_enc)
    vals, idx = pre.topk(k, dim=1, sorted=False)
    recon = decode(idx, vals)
    e = x - recon
    loss = e.pow(2).sum(1).mean()
    fired = torch.zeros(n, dtype=torch.bool)
    fired[idx[vals > 0]] = True
    since_fired = torch.where(fired, torch.zeros_like(since_fired), since_fired + B)
    dead = since_fired >= dead_tokens
    n_dead = int(dead.sum())
    if n_dead > 0:  # AuxK: the largest dead pre-activations reconstruct the residual (no b_dec)
        ka = min(auxk, n_dead)
        av, ai = pre.masked_fill(~dead, 0).topk(ka, dim=1, sorted=False)
        ar = torch.zeros(x.shape[0], n).scatter_(1, ai, av) @ W_dec
        loss = loss + auxk_coeff * (ar - e.detach()).pow(2).sum(1).mean()
    opt.zero_grad(set_to_none=False)
    loss.backward()
    with torch.no_grad():
        g = W_dec.grad
        g -= (g * W_dec).sum(1, keepdim=True) * W_dec
        opt.step()
        W_dec.div_(W_dec.norm(dim=1, keepdim=True))
    return loss


gen = torch.Generator().manual_seed(a.seed + 1)
perm = torch.randperm(a.rows, generator=gen)
pos = 0


def next_batch():
    global perm, pos
    if pos + B > a.rows:
        perm, pos = torch.randperm(a.rows, generator=gen), 0
    x = rows[perm[pos:pos + B]] * scale
    pos += B
    return x


for _ in range(a.warmup):
    step(next_batch())
t0 = time.perf_counter()
for _ in range(a.steps):
    loss = step(next_batch())
el = time.perf_counter() - t0
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(json.dumps({"impl": "torch-" + a.decode, "torch": torch.__version__, "d_in": d, "latents": n, "k": k,
                  "batch": B, "steps": a.steps, "threads": a.threads, "seconds": round(el, 4),
                  "tokens_per_s": round(a.steps * B / el, 1), "peak_rss_mb": round(rss_mb, 1),
                  "final_loss": round(float(loss), 6)}))
