#!/usr/bin/python3
"""bench/torch_gpt.py: mergelab's GPT in PyTorch, the reference `make bench` races.

The same model as kernels/gpt.c: token and learned position embeddings,
pre-LayerNorm blocks (eps 1e-5), causal multi-head attention with one qkv
projection (q, k, v in that order, head h in columns h*hs..), a GELU MLP of
width 4C (tanh form), a final LayerNorm and a head tied to the token
embedding, mean cross-entropy; AdamW (decay on wte, wpe and every matrix,
none on biases and LayerNorms) after clipping the gradient norm to 1.

  torch_gpt.py check DUMP   load mergelab's initial weights and batch from DUMP
                            (written by `mlbench --dump`), compute the loss,
                            the gradients and the matmul FLOPs of one step, and
                            compare them with mergelab's; exit 1 on a mismatch.
  torch_gpt.py serve        answer "step THREADS STEPS V T L NH C B" lines on
                            stdin with the median milliseconds of STEPS training
                            steps (after 2 warm-ups) on THREADS intra-op threads,
                            one line each; mlbench alternates these rounds with
                            its own so a slow spell of the machine hits both.
Run with OMP_WAIT_POLICY=PASSIVE (mlbench sets it), as PyTorch is fastest so here.
THREADS bounds OpenBLAS's own threads as well as PyTorch's: Debian's PyTorch
does its matrix products in OpenBLAS, whose thread pool torch.set_num_threads
does not touch, so "1 thread" would otherwise run its products on every core.
"""
import ctypes
import math
import struct
import sys
import time

import torch
import torch.nn.functional as F


class Block(torch.nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.NH = NH
        self.ln1 = torch.nn.LayerNorm(C, eps=1e-5)
        self.qkv = torch.nn.Linear(C, 3 * C)
        self.proj = torch.nn.Linear(C, C)
        self.ln2 = torch.nn.LayerNorm(C, eps=1e-5)
        self.fc = torch.nn.Linear(C, 4 * C)
        self.fcp = torch.nn.Linear(4 * C, C)

    def forward(self, x, mask):
        B, T, C = x.shape
        hs = C // self.NH
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q = q.view(B, T, self.NH, hs).transpose(1, 2)
        k = k.view(B, T, self.NH, hs).transpose(1, 2)
        v = v.view(B, T, self.NH, hs).transpose(1, 2)
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        p = torch.softmax(s.masked_fill(mask[:T, :T], float("-inf")), dim=-1)
        y = (p @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(y)
        return x + self.fcp(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(torch.nn.Module):
    def __init__(self, V, maxT, L, NH, C):
        super().__init__()
        self.wte = torch.nn.Parameter(torch.randn(V, C) * 0.02)
        self.wpe = torch.nn.Parameter(torch.randn(maxT, C) * 0.02)
        self.h = torch.nn.ModuleList([Block(C, NH) for _ in range(L)])
        self.lnf = torch.nn.LayerNorm(C, eps=1e-5)
        self.register_buffer("mask", torch.triu(torch.ones(maxT, maxT, dtype=torch.bool), 1))

    def forward(self, x, y):
        T = x.shape[1]
        h = self.wte[x] + self.wpe[:T]
        for b in self.h:
            h = b(h, self.mask)
        logits = self.lnf(h) @ self.wte.t()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))

    def in_layout_order(self):
        """(parameter, decays) in kernels/gpt.c's layout order"""
        out = [(self.wte, True), (self.wpe, True)]
        for b in self.h:
            out += [(b.ln1.weight, False), (b.ln1.bias, False), (b.qkv.weight, True), (b.qkv.bias, False),
                    (b.proj.weight, True), (b.proj.bias, False), (b.ln2.weight, False), (b.ln2.bias, False),
                    (b.fc.weight, True), (b.fc.bias, False), (b.fcp.weight, True), (b.fcp.bias, False)]
        return out + [(self.lnf.weight, False), (self.lnf.bias, False)]


def optimizer(model):
    groups = model.in_layout_order()
    return torch.optim.AdamW([{"params": [p for p, d in groups if d], "weight_decay": 0.1},
                              {"params": [p for p, d in groups if not d], "weight_decay": 0.0}],
                             lr=1e-3, betas=(0.9, 0.99), eps=1e-8, foreach=True)


def train_step(model, opt, x, y):
    opt.zero_grad(set_to_none=True)
    loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


def matmul_flops(fn):
    """2*M*N*K over every matrix product run by fn (forward and backward)."""
    from torch.utils._python_dispatch import TorchDispatchMode
    aten = torch.ops.aten
    total = [0]

    def mm(a, b):
        return 2 * a.shape[0] * a.shape[1] * b.shape[-1]

    def bmm(a, b):
        return 2 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[-1]

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            pkt = func.overloadpacket
            if pkt is aten.mm:
                total[0] += mm(args[0], args[1])
            elif pkt is aten.addmm:
                total[0] += mm(args[1], args[2])
            elif pkt is aten.bmm:
                total[0] += bmm(args[0], args[1])
            elif pkt is aten.baddbmm:
                total[0] += bmm(args[1], args[2])
            return func(*args, **(kwargs or {}))

    with Count():
        fn()
    return total[0]


def check(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != b"MLGPTDMP":
        sys.exit("torch_gpt.py: %s: not an mlbench --dump file" % path)
    V, maxT, L, NH, C, B, T, total = struct.unpack_from("<8i", raw, 8)
    off = 40
    params = torch.frombuffer(bytearray(raw[off:off + 4 * total]), dtype=torch.float32); off += 4 * total
    x = torch.frombuffer(bytearray(raw[off:off + 4 * B * T]), dtype=torch.int32).long().view(B, T); off += 4 * B * T
    y = torch.frombuffer(bytearray(raw[off:off + 4 * B * T]), dtype=torch.int32).long().view(B, T); off += 4 * B * T
    ml_loss, ml_flops = struct.unpack_from("<fd", raw, off); off += 12
    ml_grads = torch.frombuffer(bytearray(raw[off:off + 4 * total]), dtype=torch.float32)
    torch.manual_seed(0)
    model = GPT(V, maxT, L, NH, C)
    at = 0
    with torch.no_grad():
        for p, _ in model.in_layout_order():
            p.copy_(params[at:at + p.numel()].view_as(p))
            at += p.numel()
    if at != total:
        sys.exit("torch_gpt.py: the model has %d parameters, the dump %d" % (at, total))
    loss = [None]

    def step():
        loss[0] = model(x, y)
        loss[0].backward()
    flops = matmul_flops(step)
    grads = torch.cat([p.grad.reshape(-1) for p, _ in model.in_layout_order()])
    dl = abs(loss[0].item() - ml_loss)
    gerr = ((grads - ml_grads).abs() - (1e-6 + 1e-3 * grads.abs())).max().item()
    ok_loss, ok_grad, ok_flops = dl <= 1e-5, gerr <= 0, abs(flops - ml_flops) <= 1e-9 * ml_flops
    print("torch check: loss torch %.7f mergelab %.7f |diff| %.2e (<= 1e-5: %s)" % (loss[0].item(), ml_loss, dl,
                                                                                 "ok" if ok_loss else "FAIL"))
    print("torch check: %d gradients, worst |diff| - (1e-6 + 1e-3|g|) = %.2e (<= 0: %s)" % (total, gerr,
                                                                                         "ok" if ok_grad else "FAIL"))
    print("torch check: matmul FLOPs of a step, torch %d mergelab %d (%s)" % (flops, int(ml_flops),
                                                                           "equal" if ok_flops else "FAIL"))
    return 0 if ok_loss and ok_grad and ok_flops else 1


def openblas_libraries():
    """The OpenBLAS libraries this process has loaded (PyTorch's BLAS)."""
    libs = []
    with open("/proc/self/maps") as f:
        paths = sorted({line.split()[-1] for line in f if "blas" in line and line.split()[-1].startswith("/")})
    for p in paths:
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_set_num_threads.argtypes = [ctypes.c_int]
            libs.append(lib)
        except (OSError, AttributeError):
            pass
    return libs


def serve():
    blas = openblas_libraries()
    if not blas:
        sys.exit("torch_gpt.py: PyTorch loaded no OpenBLAS, so its BLAS threads cannot be bounded")
    models = {}
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        if w[0] != "step" or len(w) != 9:
            print("error: want step THREADS STEPS V T L NH C B", flush=True)
            continue
        threads, steps, V, T, L, NH, C, B = map(int, w[1:])
        torch.set_num_threads(threads)
        for lib in blas:
            lib.openblas_set_num_threads(threads)
        key = (V, T, L, NH, C, B)
        if key not in models:
            torch.manual_seed(1)
            m = GPT(V, T, L, NH, C)
            g = torch.Generator().manual_seed(2)
            x = torch.randint(0, V, (B, T), generator=g)
            y = torch.randint(0, V, (B, T), generator=g)
            models[key] = (m, optimizer(m), x, y)
        m, opt, x, y = models[key]
        times = []
        for s in range(-2, steps):
            t0 = time.perf_counter()
            train_step(m, opt, x, y)
            if s >= 0:
                times.append(time.perf_counter() - t0)
        times.sort()
        print("%.4f" % (times[len(times) // 2] * 1e3), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        sys.exit(check(sys.argv[2]))
    if len(sys.argv) == 2 and sys.argv[1] == "serve":
        sys.exit(serve())
    sys.exit(__doc__)
