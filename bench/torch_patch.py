#!/usr/bin/python3
"""PyTorch peer for bench/bench_patch.sh: the activation-patching sweep a researcher would write
with forward hooks, on the weights of a seer GGUF (F32) and the token ids seer used. resid_pre of
every block is a hook module (as TransformerLens's HookPoint); the clean run caches it, then each
(layer, position) cell gets one patched forward of the corrupted prompt ("naive"), and, as a
second number, all positions of a layer go as one batch of T copies ("batched"). Prints JSON."""
import argparse, json, math, mmap, struct, sys, time

import torch_threads  # noqa: F401  (before torch: sets how its threads wait)

import numpy as np
import torch

p = argparse.ArgumentParser()
p.add_argument("--model", required=True, help="GGUF file with F32 tensors (seer model random)")
p.add_argument("--clean", required=True, help="comma-separated token ids")
p.add_argument("--corrupt", required=True, help="comma-separated token ids")
p.add_argument("--tokens", required=True, help="A,B: the metric is logit(A) - logit(B) at the last position")
p.add_argument("--layers", type=int, default=0, help="layers swept (0: all)")
p.add_argument("-t", type=int, default=2)
p.add_argument("--variants", default="naive,batched")
a = p.parse_args()
torch.set_num_threads(a.t)

# ---- GGUF (v2/v3) reader: metadata and F32 tensors only ----
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


class Reader:
    def __init__(self, buf):
        self.b, self.o = buf, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.o)[0]
        self.o += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = bytes(self.b[self.o:self.o + n]).decode("utf-8", "replace")
        self.o += n
        return s

    def value(self, t):
        if t in SCALAR:
            return self.take(SCALAR[t])
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("<I"), self.take("<Q")
            if et in SCALAR:  # skip numeric arrays in one step, they are not needed here
                self.o += n * struct.calcsize(SCALAR[et])
                return None
            return [self.value(et) for _ in range(n)]
        raise ValueError("gguf: unknown value type %d at byte %d" % (t, self.o))


def load_gguf(path):
    f = open(path, "rb")
    buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    r = Reader(buf)
    if bytes(buf[:4]) != b"GGUF":
        sys.exit("torch_patch: %s is not a GGUF file" % path)
    r.o = 4
    version, n_t, n_kv = r.take("<I"), r.take("<Q"), r.take("<Q")
    if version < 2:
        sys.exit("torch_patch: GGUF version %d not supported" % version)
    meta = {}
    for _ in range(n_kv):
        k = r.string()
        meta[k] = r.value(r.take("<I"))
    infos = []
    for _ in range(n_t):
        name = r.string()
        nd = r.take("<I")
        dims = [r.take("<Q") for _ in range(nd)]
        typ, off = r.take("<I"), r.take("<Q")
        infos.append((name, dims, typ, off))
    align = meta.get("general.alignment") or 32
    base = (r.o + align - 1) // align * align
    arr = np.frombuffer(buf, dtype=np.uint8)
    tensors = {}
    for name, dims, typ, off in infos:
        if typ != 0:
            sys.exit("torch_patch: tensor %s has type %d; only F32 (0) is read (make the model with --type f32)" % (name, typ))
        n = math.prod(dims)
        start = base + off
        t = arr[start:start + 4 * n].view(np.float32).reshape(list(reversed(dims)))  # GGUF lists the fastest dim first
        tensors[name] = torch.from_numpy(t.copy())
    return meta, tensors


meta, W = load_gguf(a.model)
arch = meta["general.architecture"]
if arch != "llama":
    sys.exit("torch_patch: architecture %s: only llama is implemented" % arch)
D = meta["llama.embedding_length"]
NL = meta["llama.block_count"]
NH = meta["llama.attention.head_count"]
NKV = meta.get("llama.attention.head_count_kv") or NH
EPS = meta.get("llama.attention.layer_norm_rms_epsilon") or 1e-5
THETA = meta.get("llama.rope.freq_base") or 10000.0
DH = D // NH
emb = W["token_embd.weight"]
out_w = W.get("output.weight", emb)  # absent when tied to the embedding


class HookPoint(torch.nn.Module):
    """Identity whose output forward hooks read or replace."""

    def forward(self, x):
        return x


def rms(x, g):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * g


class Block(torch.nn.Module):
    def __init__(self, l):
        super().__init__()
        g = lambda s: W["blk.%d.%s.weight" % (l, s)]
        self.an, self.fn = g("attn_norm"), g("ffn_norm")
        self.wq, self.wk, self.wv, self.wo = g("attn_q"), g("attn_k"), g("attn_v"), g("attn_output")
        self.w1, self.w3, self.w2 = g("ffn_gate"), g("ffn_up"), g("ffn_down")
        self.hook_resid_pre = HookPoint()

    def forward(self, x, cos, sin, mask):  # x (B, T, D)
        x = self.hook_resid_pre(x)
        B, T, _ = x.shape
        h = rms(x, self.an)
        q = rope((h @ self.wq.T).view(B, T, NH, DH), cos, sin).transpose(1, 2)
        k = rope((h @ self.wk.T).view(B, T, NKV, DH), cos, sin).transpose(1, 2)
        v = (h @ self.wv.T).view(B, T, NKV, DH).transpose(1, 2)
        if NKV != NH:
            k, v = k.repeat_interleave(NH // NKV, 1), v.repeat_interleave(NH // NKV, 1)
        s = (q @ k.transpose(2, 3)) / math.sqrt(DH) + mask
        o = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + o @ self.wo.T
        h = rms(x, self.fn)
        return x + (torch.nn.functional.silu(h @ self.w1.T) * (h @ self.w3.T)) @ self.w2.T


def rope(x, cos, sin):  # x (B, T, H, DH), pairs (2i, 2i+1) rotated together
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[:, None, :], sin[:, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), -1).flatten(-2)


class Llama(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = torch.nn.ModuleList(Block(l) for l in range(NL))
        self.norm = W["output_norm.weight"]

    def forward(self, tokens):  # tokens (B, T) -> logits of the last position (B, V)
        T = tokens.shape[1]
        freqs = THETA ** (-torch.arange(0, DH, 2, dtype=torch.float64) / DH)
        ang = torch.outer(torch.arange(T, dtype=torch.float64), freqs)
        cos, sin = ang.cos().float(), ang.sin().float()
        mask = torch.full((T, T), float("-inf")).triu(1)
        x = emb[tokens]
        for b in self.blocks:
            x = b(x, cos, sin, mask)
        return rms(x[:, -1], self.norm) @ out_w.T


ids = lambda s: torch.tensor([int(v) for v in s.split(",")], dtype=torch.long)
clean, corrupt = ids(a.clean), ids(a.corrupt)
ta, tb = (int(v) for v in a.tokens.split(","))
T = clean.shape[0]
if corrupt.shape[0] != T:
    sys.exit("torch_patch: the prompts have %d and %d tokens" % (T, corrupt.shape[0]))
layers = a.layers or NL
model = Llama().eval()
metric = lambda logits: (logits[:, ta] - logits[:, tb]).double()


def baselines():
    cache = {}
    hs = [model.blocks[l].hook_resid_pre.register_forward_hook(
        lambda mod, inp, out, l=l: cache.__setitem__(l, out.detach().clone())) for l in range(layers)]
    mc = metric(model(clean[None]))[0].item()
    for h in hs:
        h.remove()
    mx = metric(model(corrupt[None]))[0].item()
    return cache, mc, mx


def sweep_naive():
    cache, mc, mx = baselines()
    grid = [[0.0] * T for _ in range(layers)]
    for l in range(layers):
        for pos in range(T):
            def patch(mod, inp, out, l=l, pos=pos):
                out = out.clone()
                out[:, pos] = cache[l][:, pos]
                return out
            h = model.blocks[l].hook_resid_pre.register_forward_hook(patch)
            grid[l][pos] = metric(model(corrupt[None]))[0].item()
            h.remove()
    return grid, mc, mx


def sweep_batched():
    cache, mc, mx = baselines()
    grid = []
    batch = corrupt[None].repeat(T, 1)
    idx = torch.arange(T)
    for l in range(layers):
        def patch(mod, inp, out, l=l):  # copy b of the batch gets the clean row at position b
            out = out.clone()
            out[idx, idx] = cache[l][0]
            return out
        h = model.blocks[l].hook_resid_pre.register_forward_hook(patch)
        grid.append(metric(model(batch)).tolist())
        h.remove()
    return grid, mc, mx


res = {"threads": a.t, "tokens": T, "layers": layers}
with torch.no_grad():
    model(corrupt[None])  # warm-up: first-call allocations and thread start-up
    for name in a.variants.split(","):
        fn = {"naive": sweep_naive, "batched": sweep_batched}[name]
        t0, c0 = time.perf_counter(), time.process_time()
        grid, mc, mx = fn()
        res[name] = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0, "runs": layers * T,
                     "clean_metric": mc, "corrupt_metric": mx, "raw": grid}
print(json.dumps(res))
