"""Similarity benchmark (issues 5, 10): chunked dissection similarities against plain unchunked forms of the formulas.

In ONE run, at N = 50,000 probe images, M = 5,000 concepts and U = 2,048 units (float32, random inputs with a
fixed seed), each of soft_wpmi, wpmi, cos_similarity and cos_similarity_cubed is run twice, each time in a fresh
subprocess so that peak memory is its own:

* ``chunked``: :mod:`encoderscope.dissect.similarity` (default ``chunk_elements``);
* ``plain``: the formulas of docs/methods/dissection.md as the reference code computes them: the full ``softmax(a P)``
  (an N x M copy) then one unit at a time over all concepts for (soft) WPMI; full normalised copies of P and A for
  the cosines.

rank_reorder does the same work in both forms (per unit, a sort of its top 5% images for every concept), so it is
timed at U = 64 only. The peak extra memory is ``ru_maxrss`` after the call minus the RSS once the inputs exist.
Each row reports the time ratio chunked / plain (target: at most 1.2 while the chunked form keeps its bounded
memory) and both memory figures. A smaller case (N = 4,000, M = 500, U = 256) checks that both forms agree. The rows
replace the "Similarity" section of BENCHMARKS.md.

Usage: ``python benchmarks/bench_similarity.py [--n 50000 --m 5000 --u 2048] [--rounds 1] [--no-write]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from _sections import write_section  # benchmarks/ is on sys.path when a script here runs

ROOT = Path(__file__).resolve().parents[1]
SECTION = "Similarity"
FUNCTIONS = ("soft_wpmi", "wpmi", "cos_similarity", "cos_similarity_cubed", "rank_reorder")
FORMS = ("chunked", "plain")


def make_inputs(n: int, m: int, u: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """CLIP-like cosines in [0.1, 0.4] and Gaussian activations, allocated in place (no temporaries)."""
    g = torch.Generator().manual_seed(seed)
    P = torch.empty(n, m).uniform_(0.1, 0.4, generator=g)
    A = torch.empty(n, u).normal_(generator=g)
    return P, A


# -- plain forms: the equations written directly, no chunking ---------------------------------------------------


def plain_pmi(P, A, top_k, a, lam, min_prob, soft, p_start=0.998, p_end=0.97):
    probs = torch.softmax(a * P, dim=1)  # full N x M copy
    index = torch.topk(A, k=top_k, dim=0).indices
    weights = (p_start - torch.arange(top_k) / top_k * (p_start - p_end)).unsqueeze(1)
    rows = []
    for unit in range(A.shape[1]):
        picked = probs[index[:, unit]]
        terms = torch.log(1 + weights * (picked - 1) + min_prob) if soft else torch.log(picked + min_prob)
        rows.append(terms.sum(dim=0))
    cond = torch.stack(rows)
    return cond - lam * (torch.logsumexp(cond, dim=0, keepdim=True) - math.log(A.shape[1]))


def plain_cos(P, A):
    return (A / A.norm(dim=0)).T @ (P / P.norm(dim=0))


def plain_cos_cubed(P, A, min_norm=1e-3):
    Pc = (P - P.mean(dim=0)) ** 3
    Ac = (A - A.mean(dim=0)) ** 3
    return (Ac / Ac.norm(dim=0).clamp_min(min_norm)).T @ (Pc / Pc.norm(dim=0).clamp_min(min_norm))


def plain_rank_reorder(P, A, p=3.0, top_fraction=0.05, scale_p=0.5, seed=0):
    t = int(P.shape[0] * top_fraction)
    vals, index = torch.topk(A, k=t, dim=0)
    g = torch.Generator().manual_seed(seed)
    out = []
    for unit in range(A.shape[1]):
        acts = vals[:, unit]
        s = acts.flip(0)
        perms = torch.stack([torch.randperm(t, generator=g) for _ in range(5)])
        base = ((s.unsqueeze(0) - s[perms]).abs() ** p).mean()
        c = P[index[:, unit]]
        ranks = c.argsort(dim=0).argsort(dim=0)
        err = ((acts.unsqueeze(1) - s[ranks]).abs() ** p).mean(dim=0) / base
        out.append(-err / c.mean(dim=0) ** scale_p)
    return torch.stack(out)


def run_one(name: str, form: str, P: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    from encoderscope.dissect import similarity as sim

    if form == "chunked":
        return sim.get_similarity(name)(P, A)
    if name == "soft_wpmi":
        return plain_pmi(P, A, min(100, P.shape[0]), 10.0, 1.0, 1e-7, soft=True)
    if name == "wpmi":
        return plain_pmi(P, A, 28, 2.0, 0.6, 1e-7, soft=False)
    if name == "cos_similarity":
        return plain_cos(P, A)
    if name == "cos_similarity_cubed":
        return plain_cos_cubed(P, A)
    return plain_rank_reorder(P, A)


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(name: str, form: str, n: int, m: int, u: int) -> None:
    """Measure one (function, form) in this fresh process; print a JSON line."""
    P, A = make_inputs(n, m, u)
    base = _rss_mb()
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    with torch.inference_mode():
        out = run_one(name, form, P, A)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "name": name,
                "form": form,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "peak_extra_mb": max(0.0, peak - base),
                "inputs_mb": (P.numel() + A.numel()) * 4 / 2**20,
                "shape": list(out.shape),
            }
        )
    )


def _fastest(runs: list[dict]) -> dict:
    """The run with the smallest wall time, with the smallest CPU time of all runs (or the first error)."""
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    return {**min(good, key=lambda r: r["seconds"]), "cpu_seconds": min(r["cpu_seconds"] for r in good)}


def agreement() -> dict[str, float]:
    """Max |chunked - plain| / max|plain| per function on a smaller case."""
    P, A = make_inputs(4000, 500, 256, seed=1)
    result = {}
    for name in FUNCTIONS:
        with torch.inference_mode():
            chunked = run_one(name, "chunked", P, A)
            plain = run_one(name, "plain", P, A)
        result[name] = float((chunked - plain).abs().max() / plain.abs().max())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--m", type=int, default=5_000)
    parser.add_argument("--u", type=int, default=2_048)
    parser.add_argument("--u-rank", type=int, default=64)
    parser.add_argument("--child", nargs=2, default=None, metavar=("NAME", "FORM"))
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; the fastest of each is kept")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.child:
        name, form = args.child
        child(name, form, args.n, args.m, args.u_rank if name == "rank_reorder" else args.u)
        return
    sizes = ["--n", str(args.n), "--m", str(args.m), "--u", str(args.u), "--u-rank", str(args.u_rank)]
    rows = []
    for _ in range(args.rounds):
        for name in FUNCTIONS:
            for form in FORMS:
                cmd = [sys.executable, __file__, "--child", name, form, *sizes]
                done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                if done.returncode:
                    rows.append({"name": name, "form": form, "error": done.stderr.strip().splitlines()[-1]})
                else:
                    rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(rows[-1], flush=True)
    agree = agreement()
    print(agree, flush=True)
    lines = [
        f"`python benchmarks/bench_similarity.py`: N = {args.n:,} images, M = {args.m:,} concepts, U = {args.u:,} "
        f"units (rank_reorder: U = {args.u_rank}), float32 on CPU ({os.cpu_count()} cores, shared machine, load "
        f"average {os.getloadavg()[0]:.1f} at the end; torch {torch.__version__}, Python "
        f"{platform.python_version()}). Peak extra = ru_maxrss after the call minus the RSS with the inputs "
        "allocated, each form in a fresh process. Plain = the equations written directly (full softmax copy, one "
        "unit at a time over all concepts; full normalised copies for the cosines). Chunked = "
        "`encoderscope.dissect.similarity` with its default `chunk_elements` (cosine: one product `A^T P` scaled by "
        "the column norms; cubed cosine: one pass over blocks of images; (soft) WPMI and rank reordering: blocks of "
        f"units and concepts), input checks included. Fastest of {args.rounds} interleaved round(s) in wall time; "
        "the CPU-time ratio (user + system time of the process) is the one less disturbed by other work on a shared "
        "machine.",
        "",
        "| function | chunked s | plain s | time chunked / plain (target <= 1.2) | CPU time chunked / plain "
        "| chunked peak extra MB | plain peak extra MB | max rel. difference (N=4k check) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in FUNCTIONS:
        chunked, plain = (_fastest([r for r in rows if r["name"] == name and r["form"] == f]) for f in FORMS)
        if "error" in chunked or "error" in plain:
            lines.append(f"| {name} | {chunked.get('error', '')} | {plain.get('error', '')} | | | | | |")
            continue
        lines.append(
            f"| {name} | {chunked['seconds']:.1f} | {plain['seconds']:.1f} | "
            f"{chunked['seconds'] / plain['seconds']:.2f} | {chunked['cpu_seconds'] / plain['cpu_seconds']:.2f} | "
            f"{chunked['peak_extra_mb']:.0f} | {plain['peak_extra_mb']:.0f} | {agree[name]:.1e} |"
        )
    inputs = rows[0].get("inputs_mb", 0.0)
    lines += [
        "",
        f"Inputs: P and A take {inputs:.0f} MB together (U = {args.u}); the U x M output is "
        f"{args.u * args.m * 4 / 2**20:.0f} MB and is counted in both forms.",
    ]
    if not args.no_write:
        print(f"wrote {write_section(SECTION, chr(10).join(lines))}")
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
