"""Training throughput: ranvier's delayed synapse against two obvious ones, side by side.

One full training step (forward, cross-entropy on the logits, backward, Adam step) of the
SHD-size model, ``SpikingNet(140, 20, ModelConfig(hidden=[128, 128], neuron='ADLIF',
delays='interp', max_delay=25, dropout=0.5), seed=0)``: 140-128-128-20 AdLIF+, per-synapse
delays (read-out included) drawn uniformly in [0, max_delay] with fractional parts, hidden
weights x WEIGHT_GAIN so every layer spikes, Bernoulli input (density 0.05), batch 128,
T = 125, ``torch.set_num_threads(2)``. Three implementations of the delayed synapse
``a[b, j, t] = sum_i W[j, i] x[b, i, t - 1 - d[j, i]]`` (linear interpolation between the
taps floor(d) and floor(d) + 1), swapped by patching ``ranvier.train.model.delayed_dense`` so
the neuron dynamics are the same code in all three:

- ``ranvier``: ``ranvier.train.delays.delayed_dense`` (frequency domain, ``mode='interp'``),
- ``naive``: per-synapse shift: index the padded input per synapse into two
  ``(B, n_out, n_in, T)`` tap tensors, interpolate, weight, sum over inputs (plain autograd),
- ``conv1d``: the dense per-synapse kernel ``(n_out, n_in, max_delay + 2)`` holding the two
  interpolation taps (a DCLS Gaussian costs the same), ``conv1d`` with causal left padding.

Before timing, the three must agree on a small case: the synapse output and its gradients
(layer-0 shape, batch 2) and the model's logits and read-out membrane (batch 4, eval mode),
max abs diff < 1e-4. Each implementation then runs in its own subprocess; the steps are
interleaved round-robin (one warm-up round, then ``--repeats`` timed rounds) so load from
other processes hits all three alike. Reported per implementation: median step time, median
forward time (the forward + loss part of those steps, autograd recording), peak memory
(peak RSS increase of the subprocess over its RSS after building model, input and optimizer:
VmHWM, reset there through /proc/self/clear_refs, minus VmRSS), ratios vs ranvier, and a
torch.profiler split of one extra step into synapse / neuron loop / other (backward ops are
attributed through their autograd sequence numbers to the forward scope that created them).
A fourth run, ``none``,
replaces the synapse by zeros (still on the autograd path): its step is the floor that no
synapse can go below, so ``fastest other / none`` bounds the reachable speedup without the
profiler's overhead on the neuron loop's many small ops. If ``naive`` does not fit
in memory at ``--batch`` it runs at the largest batch / 2**k that does, and its time and
memory are scaled linearly to ``--batch`` (marked in the table).

    .venv/bin/python bench/train_throughput.py [--batch 128] [--steps 125] [--max-delay 25]
                                               [--repeats 3] [--json]

Exit status 1 if the implementations disagree.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from machine_info import machine  # bench/ is on sys.path when run as a script
from ranvier.train import model as model_mod
from ranvier.train.config import ModelConfig
from ranvier.train.delays import delayed_dense
from torch import nn

IMPLS = ("ranvier", "naive", "conv1d")
N_IN, N_CLASSES, HIDDEN = 140, 20, (128, 128)
#: Hidden weights x this (Xavier-initialised AdLIF+ layers are silent on 5% input); gives
#: ~9% / ~12% spikes in the two hidden layers. The dense step costs the same at any rate.
WEIGHT_GAIN = 20.0
TOLERANCE = 1e-4
#: Above this share of the CPU used by other processes during the run, the timings are
#: not trustworthy (oversubscribed thread pools slow some ops far more than others).
BUSY_SHARE = 0.1
MARK = "@@train_throughput "
#: naive keeps ~3 float32 (B, n_out, n_in, T) tensors alive at its peak; 4 plus 0.5 GB
#: is the estimate used to pick a batch that fits.
NAIVE_BYTES_PER_TAP = 16


# --- the two reference synapses -------------------------------------------------------------


def _interp_taps(weight, delay, mode, max_delay, quantized):
    """``(floor(d) clamped to 0..max_delay, d - floor(d), max_delay)`` as delayed_dense."""
    if quantized:
        raise NotImplementedError("the reference synapses implement the float forward only")
    if delay is None or mode == "none":
        delay, max_delay = torch.zeros_like(weight), 0
    elif mode != "interp":
        raise NotImplementedError(f"mode {mode!r}: the reference synapses implement 'interp'")
    base = torch.floor(delay.detach()).clamp(0, max_delay)
    return base, delay - base, max_delay


def naive_delayed_dense(
    x, weight, delay, *, mode="interp", max_delay=0, sigma=0.5, quantized=False, check=True
):
    """Per-synapse shift: two ``(B, n_out, n_in, T)`` gathers of the input, interpolate, sum."""
    base, frac, max_delay = _interp_taps(weight, delay, mode, max_delay, quantized)
    n_in, t_steps = x.shape[1], x.shape[2]
    pad = max_delay + 2
    xp = nn.functional.pad(x, (pad, 0))  # xp[..., s + pad] = x[..., s]
    near_idx = torch.arange(t_steps) + (pad - 1) - base.long().unsqueeze(-1)  # x[t - 1 - k]
    chan = torch.arange(n_in).view(1, n_in, 1)
    near = xp[:, chan, near_idx]  # (B, n_out, n_in, T)
    far = xp[:, chan, near_idx - 1]  # x[t - 2 - k]
    taps = near + frac.unsqueeze(-1) * (far - near)
    return (taps * weight.unsqueeze(-1)).sum(2)


def conv1d_delayed_dense(
    x, weight, delay, *, mode="interp", max_delay=0, sigma=0.5, quantized=False, check=True
):
    """Dense per-synapse kernel over the ``max_delay + 2`` taps, causal ``conv1d``."""
    base, frac, max_delay = _interp_taps(weight, delay, mode, max_delay, quantized)
    size = max_delay + 2
    taps = torch.arange(size, dtype=base.dtype)
    b, f = base.unsqueeze(-1), frac.unsqueeze(-1)
    kernel = weight.unsqueeze(-1) * ((1 - f) * (taps == b) + f * (taps == b + 1))  # tap k
    # conv1d correlates: output t sees padded input t + m = x[t + m - size]; m = size - 1 - k.
    out = nn.functional.conv1d(nn.functional.pad(x, (size, 0)), kernel.flip(-1))
    return out[..., : x.shape[-1]]


def no_synapse(
    x, weight, delay, *, mode="interp", max_delay=0, sigma=0.5, quantized=False, check=True
):
    """Zeros ``(B, n_out, T)``, still on the autograd path of x, W, d: the step's floor.

    The neurons then run the same dense ops on zero input (and the earlier layers' backward
    still runs), so a step with it is the step without the synapse's cost.
    """
    link = x.sum(1, keepdim=True) * 0 + weight.sum() * 0
    if delay is not None:
        link = link + delay.sum() * 0
    return torch.zeros(x.shape[0], weight.shape[0], x.shape[-1], dtype=x.dtype) + link


SYNAPSES = {
    "ranvier": delayed_dense,
    "naive": naive_delayed_dense,
    "conv1d": conv1d_delayed_dense,
    "none": no_synapse,
}
#: ``none`` (no synapse: the floor of the step) is timed beside the three, not compared.
RUNS = (*IMPLS, "none")


# --- the model --------------------------------------------------------------------------------


def build_net(max_delay: int) -> model_mod.SpikingNet:
    cfg = ModelConfig(
        hidden=list(HIDDEN), neuron="ADLIF", delays="interp", max_delay=max_delay, dropout=0.5
    )
    net = model_mod.SpikingNet(N_IN, N_CLASSES, cfg, seed=0)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for block in net.blocks:
            block.delay.copy_(torch.rand(block.delay.shape, generator=gen) * max_delay)
        for block in net.blocks[:-1]:
            block.weight.mul_(WEIGHT_GAIN)
    return net


def make_batch(batch: int, steps: int, density: float) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(2)
    x = (torch.rand(batch, N_IN, steps, generator=gen) < density).float()
    y = torch.randint(0, N_CLASSES, (batch,), generator=gen)
    return x, y


def use_synapse(impl: str, labelled: bool = False) -> None:
    """Patch the synapse Block.forward calls; ``labelled`` wraps it in a profiler scope."""
    fn = SYNAPSES[impl]
    if labelled:
        raw = fn

        def fn(*args, **kwargs):
            with torch.profiler.record_function("bench::synapse"):
                return raw(*args, **kwargs)

    model_mod.delayed_dense = fn


def label_neurons(net: model_mod.SpikingNet) -> None:
    for block in net.blocks:
        raw = block.neuron.forward

        def forward(*args, _raw=raw, **kwargs):
            with torch.profiler.record_function("bench::neuron"):
                return _raw(*args, **kwargs)

        block.neuron.forward = forward


# --- equivalence ------------------------------------------------------------------------------


def check_equivalence(steps: int, max_delay: int, density: float) -> dict:
    """Max abs differences of naive and conv1d from ranvier: synapse and model."""
    gen = torch.Generator().manual_seed(3)
    # layer-0 synapse, batch 2, dropout-scaled spikes; gradients of x, W, d under a random
    # upstream gradient (relative to the largest gradient entry)
    x = ((torch.rand(2, N_IN, steps, generator=gen) < 0.2).float() * 2.0).requires_grad_()
    w = torch.randn(HIDDEN[0], N_IN, generator=gen).requires_grad_()
    d = torch.rand(HIDDEN[0], N_IN, generator=gen) * max_delay
    d[0, :3] = torch.tensor([0.0, float(max_delay), 3.0])  # the ends and an integer
    d.requires_grad_()
    upstream = torch.randn(2, HIDDEN[0], steps, generator=gen)
    results = {}
    for impl in IMPLS:
        out = SYNAPSES[impl](x, w, d, mode="interp", max_delay=max_delay)
        grads = torch.autograd.grad((out * upstream).sum(), (x, w, d))
        results[impl] = (out.detach(), *grads)
    net = build_net(max_delay).eval()
    xm, _ = make_batch(4, steps, density)
    model_out = {}
    with torch.no_grad():
        for impl in IMPLS:
            use_synapse(impl)
            logits, hidden, membrane = net(xm)
            model_out[impl] = (logits, membrane, [float(s.mean()) for s in hidden])
    use_synapse("ranvier")
    report = {"spike_rates_eval_batch4": model_out["ranvier"][2]}
    for impl in IMPLS[1:]:
        ref, got = results["ranvier"], results[impl]
        rel = [
            float((a - b).abs().max() / a.abs().max())
            for a, b in zip(ref[1:], got[1:], strict=True)
        ]
        report[impl] = {
            "synapse_out": float((ref[0] - got[0]).abs().max()),
            "synapse_grad_rel": dict(zip(("x", "weight", "delay"), rel, strict=True)),
            "logits": float((model_out["ranvier"][0] - model_out[impl][0]).abs().max()),
            "membrane": float((model_out["ranvier"][1] - model_out[impl][1]).abs().max()),
            "spike_rates": model_out[impl][2],
        }
    worst = max(
        max(r["synapse_out"], r["logits"], r["membrane"], *r["synapse_grad_rel"].values())
        for k, r in report.items()
        if k in IMPLS
    )
    report["max_diff"] = worst
    report["ok"] = worst < TOLERANCE
    return report


# --- worker (one implementation per subprocess) -----------------------------------------------


def _status_bytes(field: str) -> int:
    """A ``Vm*`` field of /proc/self/status in bytes (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_rss_peak() -> str:
    """Reset the peak RSS (VmHWM) to the current RSS; say how peaks are measured.

    Not ``getrusage().ru_maxrss``: a subprocess's ru_maxrss starts at its parent's peak RSS
    (recorded when it execs), which hides any peak below that.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux >= 4.0
    except OSError:
        return "VmHWM - VmRSS after construction (peak not reset: may include earlier peaks)"
    return "VmHWM - VmRSS after construction, peak reset there (/proc/self/clear_refs)"


def _profile_step(step) -> dict:
    """One step under torch.profiler; seconds per (scope, pass) and the top ops of each."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        wall = step()[0]
    events = prof.events()

    def scope(event) -> str | None:
        while event is not None:
            if event.name.startswith("bench::"):
                return event.name[len("bench::") :]
            event = event.cpu_parent
        return None

    split = {f"{s}_{p}": 0.0 for s in ("synapse", "neuron") for p in ("fwd", "bwd")}
    top: dict[str, dict[str, float]] = {key: {} for key in split}
    seq_scope: dict[int, str] = {}
    for ev in events:
        if ev.name.startswith("bench::"):
            split[f"{ev.name[len('bench::') :]}_fwd"] += ev.cpu_time_total / 1e6
        elif not ev.name.startswith("autograd::"):
            where = scope(ev)
            if where is None:
                continue
            if ev.sequence_nr >= 0:
                seq_scope.setdefault(ev.sequence_nr, where)
            key = f"{where}_fwd"
            top[key][ev.name] = top[key].get(ev.name, 0.0) + ev.self_cpu_time_total / 1e6
    for ev in events:
        if ev.name.startswith("autograd::engine::evaluate_function: "):
            where = seq_scope.get(ev.sequence_nr)
            if where is None:
                continue
            key = f"{where}_bwd"
            split[key] += ev.cpu_time_total / 1e6
            node = ev.name.split(": ", 1)[1]
            top[key][node] = top[key].get(node, 0.0) + ev.cpu_time_total / 1e6
    split["other"] = wall - sum(split.values())
    return {
        "wall_s": wall,
        "split_s": split,
        "top_s": {
            key: dict(sorted(ops.items(), key=lambda kv: -kv[1])[:4]) for key, ops in top.items()
        },
    }


def worker(args: argparse.Namespace) -> int:
    """Answer the parent's commands (``step``, ``memory``, ``profile``, ``quit``) on stdout."""
    impl, batch, budget = args.worker, args.batch, args.budget
    torch.set_num_threads(args.threads)
    use_synapse(impl, labelled=True)
    net = build_net(args.max_delay).train()
    label_neurons(net)
    x, y = make_batch(batch, args.steps, args.density)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    method = _reset_rss_peak()
    baseline = _status_bytes("VmRSS")
    if budget > 0:  # an allocation past the budget fails in torch instead of the OOM killer
        limit = _status_bytes("VmSize") + budget
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def step() -> tuple[float, float]:
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits, _, _ = net(x)
        loss = nn.functional.cross_entropy(logits, y)
        t1 = time.perf_counter()
        loss.backward()
        opt.step()
        return time.perf_counter() - t0, t1 - t0

    def answer(obj: dict) -> None:
        print(MARK + json.dumps(obj), flush=True)

    answer({"ready": True, "batch": batch})
    for line in sys.stdin:
        cmd = line.strip()
        try:
            if cmd == "step":
                step_s, fwd_s = step()
                answer({"step_s": step_s, "forward_s": fwd_s})
            elif cmd == "memory":
                peak = _status_bytes("VmHWM") - baseline
                answer({"peak_rss_increase_bytes": peak, "method": method})
            elif cmd == "profile":
                answer(_profile_step(step))
            else:
                answer({"bye": True})
                return 0
        except (RuntimeError, MemoryError) as exc:  # torch reports a failed malloc so
            oom = "alloc" in str(exc) or isinstance(exc, MemoryError)
            answer({"error": "oom" if oom else "error", "message": str(exc)[:300]})
            return 1
    return 0


class Worker:
    """A subprocess running one implementation, driven line by line."""

    def __init__(self, impl: str, batch: int, args: argparse.Namespace, budget: int):
        self.impl, self.batch = impl, batch
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", impl]
        cmd += ["--batch", str(batch), "--steps", str(args.steps)]
        cmd += ["--max-delay", str(args.max_delay), "--density", str(args.density)]
        cmd += ["--budget", str(budget), "--threads", str(args.threads)]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.ready = self._read()

    def _read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK) :])
        return {"error": "exited", "message": f"worker exited ({self.proc.wait()})"}

    def ask(self, cmd: str) -> dict:
        if self.proc.poll() is not None:
            return {"error": "exited", "message": f"worker exited ({self.proc.returncode})"}
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.ask("quit")
        self.proc.wait()


# --- parent -----------------------------------------------------------------------------------


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 8 << 30


def naive_estimate(batch: int, steps: int) -> int:
    sizes = [N_IN, *HIDDEN, N_CLASSES]
    synapses = sum(a * b for a, b in itertools.pairwise(sizes))
    return NAIVE_BYTES_PER_TAP * batch * synapses * steps + (512 << 20)


def busy_cpu_s() -> float:
    """CPU seconds spent by the whole machine so far, idle and iowait excluded."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    """CPU seconds of this process and its finished (waited-for) subprocesses."""
    return sum(
        r.ru_utime + r.ru_stime
        for r in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def run(args: argparse.Namespace) -> dict:
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    busy_start, own_start = busy_cpu_s(), own_cpu_s()
    torch.set_num_threads(args.threads)
    equivalence = check_equivalence(args.steps, args.max_delay, args.density)
    report: dict = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "torch": torch.__version__,
        "threads": args.threads,
        "model": f"{N_IN}-{HIDDEN[0]}-{HIDDEN[1]}-{N_CLASSES} AdLIF+, per-synapse delays "
        f"0..{args.max_delay} (interp), dropout 0.5, hidden weights x{WEIGHT_GAIN:g}",
        "batch": args.batch,
        "timesteps": args.steps,
        "input_density": args.density,
        "repeats": args.repeats,
        "equivalence": equivalence,
    }
    if not equivalence["ok"]:
        return report

    # memory: naive gets what is available minus a margin and the other two workers' share
    others = 2 * ((256 << 20) + args.batch * (3 << 20))
    budget = max(mem_available() - (2 << 30) - others, 1 << 30)
    naive_batch = args.batch
    while naive_batch > 1 and naive_estimate(naive_batch, args.steps) > budget:
        naive_batch //= 2
    batches = {impl: args.batch for impl in RUNS}
    batches["naive"] = naive_batch
    workers = {impl: Worker(impl, batches[impl], args, budget) for impl in RUNS}
    times: dict[str, list[tuple[float, float]]] = {impl: [] for impl in RUNS}
    failed: dict[str, str] = {}
    try:
        for rnd in range(args.repeats + 1):  # round 0 is the warm-up
            for impl in RUNS:
                if impl in failed:
                    continue
                res = workers[impl].ask("step")
                while "error" in res and res["error"] == "oom" and workers[impl].batch > 1:
                    workers[impl].close()  # retry at half the batch, warm-up included
                    batches[impl] = workers[impl].batch // 2
                    workers[impl] = Worker(impl, batches[impl], args, budget)
                    times[impl].clear()
                    res = workers[impl].ask("step")
                    if "error" not in res and rnd > 0:
                        res = workers[impl].ask("step")
                if "error" in res:
                    failed[impl] = res["message"]
                elif rnd > 0:
                    times[impl].append((res["step_s"], res["forward_s"]))
        memory = {impl: workers[impl].ask("memory") for impl in RUNS if impl not in failed}
        profiles = {
            impl: workers[impl].ask("profile")
            for impl in IMPLS
            if impl not in failed and (args.profile == "all" or impl == "ranvier")
        }
    finally:
        for w in workers.values():
            w.close()

    results = {}
    for impl in RUNS:
        if impl in failed:
            results[impl] = {"failed": failed[impl], "batch": batches[impl]}
            continue
        scale = args.batch / batches[impl]
        step_s = statistics.median(t for t, _ in times[impl])
        fwd_s = statistics.median(f for _, f in times[impl])
        mem = memory[impl]["peak_rss_increase_bytes"]
        results[impl] = {
            "batch_measured": batches[impl],
            "scale": scale,
            "step_s": step_s * scale,
            "forward_s": fwd_s * scale,
            "peak_rss_increase_mb": mem * scale / 2**20,
            "all_step_s": [t for t, _ in times[impl]],
            "all_forward_s": [f for _, f in times[impl]],
        }
        if impl in profiles:
            results[impl]["profile"] = profiles[impl]
    ref = results["ranvier"]
    for impl in RUNS:
        r = results[impl]
        if "failed" in r or "failed" in ref:
            continue
        r["speedup_step"] = r["step_s"] / ref["step_s"]
        r["speedup_forward"] = r["forward_s"] / ref["forward_s"]
        # below 1 MB the increase is noise (freed pages are reused): no ratio
        ref_mb = ref["peak_rss_increase_mb"]
        r["memory_ratio"] = r["peak_rss_increase_mb"] / ref_mb if ref_mb >= 1 else None
    report["results"] = results
    report["memory_method"] = next(iter(memory.values()), {}).get("method", "")

    others_ok = [impl for impl in IMPLS[1:] if "speedup_step" in results[impl]]
    if "failed" not in ref and others_ok:
        fastest = min(others_ok, key=lambda impl: results[impl]["step_s"])
        target: dict = {
            "fastest_other": fastest,
            "speedup_vs_fastest": results[fastest]["speedup_step"],
            "speed_ok": results[fastest]["speedup_step"] >= 5.0,
        }
        if results["naive"].get("memory_ratio"):
            frac = 1.0 / results["naive"]["memory_ratio"]
            target["memory_fraction_of_naive"] = frac
            target["memory_ok"] = frac <= 0.2
        if "speedup_step" in results["none"]:
            # the step without any synapse: what ranvier can at best approach
            floor = results["none"]["step_s"]
            target["floor_step_s"] = floor
            target["ranvier_synapse_share_unprofiled"] = 1.0 - floor / ref["step_s"]
            target["bound_if_synapse_free"] = results[fastest]["step_s"] / floor
        prof = ref.get("profile")
        if prof:
            split = prof["split_s"]
            syn = split["synapse_fwd"] + split["synapse_bwd"]
            neu = split["neuron_fwd"] + split["neuron_bwd"]
            target["ranvier_synapse_share"] = syn / prof["wall_s"]
            target["ranvier_neuron_share"] = neu / prof["wall_s"]
            if "profile" in results[fastest]:
                fsplit = results[fastest]["profile"]["split_s"]
                target["synapse_speedup_vs_fastest"] = (
                    fsplit["synapse_fwd"] + fsplit["synapse_bwd"]
                ) / syn
        report["target"] = target
    report["load_avg_start_end"] = [load_start[0], os.getloadavg()[0]]
    report["wall_s"] = time.perf_counter() - t_start
    other_s = (busy_cpu_s() - busy_start) - (own_cpu_s() - own_start)
    report["other_processes_cpu_share"] = max(other_s, 0.0) / (report["wall_s"] * os.cpu_count())
    return report


def print_report(report: dict) -> None:
    print(f"train_throughput  {report['date']}  {report['machine']}  torch {report['torch']}")
    print(
        f"{report['model']}; batch {report['batch']}, T={report['timesteps']}, input density "
        f"{report['input_density']}, {report['threads']} threads, "
        f"median of {report['repeats']} interleaved steps"
    )
    eq = report["equivalence"]
    print(
        f"equivalence vs ranvier (synapse out + grads, model logits + membrane): max diff "
        f"{eq['max_diff']:.2e} -> {'ok' if eq['ok'] else 'MISMATCH'}  "
        f"(eval spike rates {', '.join(f'{r:.3f}' for r in eq['spike_rates_eval_batch4'])})"
    )
    if "results" not in report:
        return
    head = (
        f"{'impl':<9}{'batch':>10}{'step s':>9}{'fwd s':>8}{'peak MB':>9}"
        f"{'step x':>8}{'fwd x':>7}{'mem x':>7}"
    )
    print(head)
    print("-" * len(head))
    for impl, r in report["results"].items():
        if "failed" in r:
            print(f"{impl:<9}{r['batch']:>10}  failed: {r['failed'][:60]}")
            continue
        batch = str(r["batch_measured"]) + (f"*{r['scale']:g}" if r["scale"] != 1 else "")
        print(
            f"{impl:<9}{batch:>10}{r['step_s']:>9.2f}{r['forward_s']:>8.2f}"
            f"{r['peak_rss_increase_mb']:>9.0f}{r.get('speedup_step', math.nan):>8.2f}"
            f"{r.get('speedup_forward', math.nan):>7.2f}{r.get('memory_ratio') or math.nan:>7.2f}"
        )
    if any(r.get("scale", 1) != 1 for r in report["results"].values()):
        print("batch N*k: measured at batch N, time and memory scaled by k to the full batch")
    print(
        "x = other / ranvier (step, forward, peak RSS increase); none = no synapse (zeros): "
        "the neuron loop, loss and Adam alone"
    )
    print(
        f"\nprofiled step split, s (torch.profiler, one step):\n"
        f"{'impl':<9}{'syn fwd':>9}{'syn bwd':>9}{'neu fwd':>9}{'neu bwd':>9}{'other':>8}"
        f"{'wall':>8}{'synapse':>9}{'neuron':>8}"
    )
    for impl, r in report["results"].items():
        prof = r.get("profile")
        if not prof:
            continue
        s, wall = prof["split_s"], prof["wall_s"]
        syn, neu = s["synapse_fwd"] + s["synapse_bwd"], s["neuron_fwd"] + s["neuron_bwd"]
        print(
            f"{impl:<9}{s['synapse_fwd']:>9.2f}{s['synapse_bwd']:>9.2f}{s['neuron_fwd']:>9.2f}"
            f"{s['neuron_bwd']:>9.2f}{s['other']:>8.2f}{wall:>8.2f}"
            f"{syn / wall:>9.0%}{neu / wall:>8.0%}"
        )
    prof = report["results"]["ranvier"].get("profile")
    if prof:
        print("ranvier, top ops per part (s):")
        for key, ops in prof["top_s"].items():
            print(f"  {key:<12}" + ", ".join(f"{name} {sec:.2f}" for name, sec in ops.items()))
    t = report.get("target")
    if t:
        print(
            f"\ntarget: step >= 5x faster than the faster of naive/conv1d ({t['fastest_other']}): "
            f"{t['speedup_vs_fastest']:.2f}x -> {'met' if t['speed_ok'] else 'MISSED'}"
        )
        if "memory_fraction_of_naive" in t:
            print(
                f"target: peak memory <= 1/5 of naive's: {t['memory_fraction_of_naive']:.3f} -> "
                f"{'met' if t['memory_ok'] else 'MISSED'}"
            )
        if "bound_if_synapse_free" in t:
            print(
                f"without any synapse the step takes {t['floor_step_s']:.2f} s, so ranvier's "
                f"synapse is {t['ranvier_synapse_share_unprofiled']:.0%} of its step and no "
                f"synapse can beat {t['fastest_other']} by more than "
                f"{t['bound_if_synapse_free']:.2f}x"
            )
        if "ranvier_synapse_share" in t:
            line = (
                f"profiled ranvier step: synapse {t['ranvier_synapse_share']:.0%}, neuron loop "
                f"{t['ranvier_neuron_share']:.0%} (the profiler inflates the many small ops "
                "of the neuron loop)"
            )
            if "synapse_speedup_vs_fastest" in t:
                line += (
                    f"; synapse fwd+bwd alone {t['synapse_speedup_vs_fastest']:.2f}x faster "
                    f"than {t['fastest_other']}'s"
                )
            print(line)
    share = report["other_processes_cpu_share"]
    print(f"wall {report['wall_s']:.0f} s; other processes used {share:.0%} of the CPU meanwhile")
    if share > BUSY_SHARE:
        print(
            "WARNING: the CPU was shared. Oversubscribed torch thread pools slow some ops (the "
            "complex bmm of the frequency-domain synapse) by up to ~10x and others hardly, so "
            "the ratios are not trustworthy: rerun on an idle machine (or compare --threads 1)."
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=125, help="time steps T")
    ap.add_argument("--max-delay", type=int, default=25)
    ap.add_argument("--repeats", type=int, default=3, help="timed steps per implementation")
    ap.add_argument("--density", type=float, default=0.05, help="input spike probability/bin")
    ap.add_argument(
        "--profile", choices=("all", "ranvier"), default="all", help="which to profile once"
    )
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--json", action="store_true", help="print JSON only")
    ap.add_argument("--worker", choices=RUNS, help=argparse.SUPPRESS)
    ap.add_argument("--budget", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0 if report["equivalence"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
