#!/usr/bin/python3
"""Times a Hugging Face-style MoE block in PyTorch (Debian's python3-torch,
CPU, f32) on moe-bench's shapes, the way moe-bench times moec: 16 random
inputs rotated between calls, 3 warm-up calls, then at least 5 calls and
MIN_TIME seconds. The block is the expert loop of transformers'
Qwen2/Qwen3-MoE and Mixtral: router, softmax, top-k, optional
renormalization, then for each expert hit: gather its tokens, SwiGLU MLP,
scale, index_add. Prints CSV rows "torch,SHAPE,f32,T,median,min,max".

  torch_moe.py SHAPE THREADS TOKENS(1,8,...) MIN_TIME
"""
import sys
import time

import torch
import torch.nn.functional as F

SHAPES = {"qwen3-30b-a3b": (2048, 768, 128, 8, True),
          "olmoe": (2048, 1024, 64, 8, False),
          "mixtral-small": (1024, 3584, 8, 2, True)}


class Block(torch.nn.Module):
    def __init__(self, d, f, E, k, renorm):
        super().__init__()
        self.k, self.renorm = k, renorm
        self.gate = torch.nn.Linear(d, E, bias=False)
        self.w_gate = torch.nn.ModuleList(
            [torch.nn.Linear(d, f, bias=False) for _ in range(E)])
        self.w_up = torch.nn.ModuleList(
            [torch.nn.Linear(d, f, bias=False) for _ in range(E)])
        self.w_down = torch.nn.ModuleList(
            [torch.nn.Linear(f, d, bias=False) for _ in range(E)])

    def forward(self, x):
        logits = self.gate(x)
        probs = F.softmax(logits, dim=1, dtype=torch.float)
        weights, experts = torch.topk(probs, self.k, dim=-1)
        if self.renorm:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        out = torch.zeros_like(x)
        mask = F.one_hot(experts, num_classes=len(self.w_gate)).permute(2, 1, 0)
        for e in torch.nonzero(mask.sum(dim=(1, 2))).flatten().tolist():
            slot, token = torch.where(mask[e])
            h = x[token]
            y = self.w_down[e](F.silu(self.w_gate[e](h)) * self.w_up[e](h))
            out.index_add_(0, token, y * weights[token, slot, None])
        return out


def main(shape, threads, tokens, min_time):
    torch.set_num_threads(int(threads))
    torch.manual_seed(0)
    d, f, E, k, renorm = SHAPES[shape]
    block = Block(d, f, E, k, renorm).eval()
    for T in [int(t) for t in tokens.split(",")]:
        pool = [torch.rand(T, d) * 3.4 - 1.7 for _ in range(16)]
        times, elapsed = [], 0.0
        with torch.no_grad():
            for it in range(3 + 16 * 64):
                t0 = time.perf_counter()
                block(pool[it % 16])
                t = time.perf_counter() - t0
                if it >= 3:
                    times.append(t * 1000)
                    elapsed += t
                if len(times) >= 5 and elapsed >= float(min_time):
                    break
        times.sort()
        print("torch,%s,f32,%d,%.4f,%.4f,%.4f" % (
            shape, T, times[len(times) // 2], times[0], times[-1]), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])
