"""jaxloss benchmark suite: jaxloss vs optax vs PyTorch, forward + backward.

Run from the repository root::

    python -m bench.run            # full CPU sizes (the issue's targets; minutes on 2 cores)
    python -m bench.run --quick    # laptop-sized
    python -m bench.run --smoke    # tiny, a few seconds
                                   # (what CI runs through tests/test_bench_smoke.py)
    python -m bench.run --only sparse,linear --reps 7 --out bench/results

Every case times ``jax.jit(jax.value_and_grad(loss))`` with respect to the predictions (for the
fused linear cross-entropy: w.r.t. hidden and weight), after warm-up, as the median of ``--reps``
interleaved runs (jaxloss, optax, PyTorch, jaxloss, optax, ...) in one process. The table reports
the achieved bandwidth (bytes of inputs read + gradient written, over the jaxloss time) and its
share of the copy bandwidth measured in the same run, the compiled temporary memory
(``memory_analysis().temp_size_in_bytes``) and the compile time. A loss that is not implemented
(``NotImplementedError``) or fails is reported as ``n/a``, never a crash. Output: the table on
stdout, ``results.json`` and ``ce_vocab.png`` (sparse cross-entropy time vs vocabulary size) in
``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

try:  # optional oracle
    import torch
    import torch.nn.functional as F
except Exception:  # pragma: no cover - torch absent
    torch = None
    F = None

import optax

import jaxloss

SIZES = {
    # name: (tokens, vocab) for CE, elements for element-wise, (B, T, K, L) for CTC,
    # (N, D, V) linear
    "smoke": dict(
        ce=(64, 256),
        dense=(64, 256),
        elem=(128, 128),
        kl=(64, 128),
        ctc=(2, 16, 8, 4),
        linear=(64, 32, 256),
        vocab_tokens=64,
        vocabs=(128, 512),
        linear_chunk=32,
    ),
    "quick": dict(
        ce=(1024, 8192),
        dense=(1024, 8192),
        elem=(1024, 1024),
        kl=(1024, 1024),
        ctc=(8, 64, 32, 16),
        linear=(1024, 256, 8192),
        vocab_tokens=512,
        vocabs=(1024, 4096, 16384),
        linear_chunk=None,
    ),
    "full": dict(
        ce=(4096, 32000),
        dense=(4096, 8192),
        elem=(4096, 4096),
        kl=(4096, 4096),
        ctc=(32, 128, 64, 32),
        linear=(4096, 512, 32768),
        vocab_tokens=4096,
        vocabs=(2048, 8192, 16384, 32000),
        linear_chunk=None,
    ),
}


# ------------------------------------------------------------------------------------------ timing


def _block(x):
    return jax.block_until_ready(x)


def _torch_call(fn):
    def run():
        out = fn()
        return out

    return run


@dataclass
class Impl:
    name: str
    run: Callable[[], object] | None = None  # one timed call (already compiled)
    compile_s: float | None = None
    temp_bytes: int | None = None
    error: str | None = None
    times: list = field(default_factory=list)

    @property
    def median(self):
        return statistics.median(self.times) if self.times else None


def _jax_impl(name, loss, args, argnums=0):
    """jit(value_and_grad(loss)) compiled once; records compile time and temp memory."""
    impl = Impl(name)
    try:
        f = jax.jit(jax.value_and_grad(loss, argnums=argnums))
        t0 = time.perf_counter()
        compiled = f.lower(*args).compile()
        impl.compile_s = time.perf_counter() - t0
        try:
            impl.temp_bytes = int(compiled.memory_analysis().temp_size_in_bytes)
        except Exception:
            impl.temp_bytes = None
        impl.run = lambda: _block(compiled(*args))
    except NotImplementedError as e:
        impl.error = f"not implemented ({e})"
    except Exception as e:  # a crash in one loss must not stop the suite
        impl.error = f"{type(e).__name__}: {e}".splitlines()[0][:200]
    return impl


def _torch_impl(name, build):
    """``build()`` returns (inputs requiring grad, closure computing the loss)."""
    impl = Impl(name)
    if torch is None or build is None:
        impl.error = "torch not installed" if torch is None else "no PyTorch counterpart"
        return impl
    try:
        leaves, loss_fn = build()

        def run():
            for t in leaves:
                t.grad = None
            out = loss_fn()
            out.backward()
            return out.item()

        t0 = time.perf_counter()
        run()
        impl.compile_s = time.perf_counter() - t0  # first call (eager: no compile)
        impl.run = run
    except Exception as e:
        impl.error = f"{type(e).__name__}: {e}".splitlines()[0][:200]
    return impl


def measure(impls, reps, warmup=2):
    live = [i for i in impls if i.run is not None]
    for impl in live:
        try:
            for _ in range(warmup):
                impl.run()
        except NotImplementedError as e:
            impl.error, impl.run = f"not implemented ({e})", None
        except Exception as e:
            impl.error, impl.run = f"{type(e).__name__}: {e}".splitlines()[0][:200], None
    live = [i for i in impls if i.run is not None]
    for _ in range(reps):  # interleaved: drifts in machine load hit every implementation alike
        for impl in live:
            t0 = time.perf_counter()
            impl.run()
            impl.times.append(time.perf_counter() - t0)


def copy_bandwidth(nbytes, reps):
    """GB/s of a device copy (bytes read + bytes written), measured like every case."""
    n = nbytes // 4
    x = jnp.asarray(np.random.default_rng(0).normal(size=n).astype(np.float32))
    f = jax.jit(lambda x: -x).lower(x).compile()
    _block(f(x))
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        _block(f(x))
        ts.append(time.perf_counter() - t0)
    return 2 * n * 4 / statistics.median(ts) / 1e9, statistics.median(ts)


# ------------------------------------------------------------------------------------------ cases


def _rng(seed=0):
    return np.random.default_rng(seed)


def _t(x, requires_grad=False):
    t = torch.from_numpy(np.array(x))  # a writable copy
    return t.requires_grad_(requires_grad)


def case_sparse_ce(n, v, dtype=jnp.float32):
    r = _rng(1)
    logits_np = r.normal(size=(n, v)).astype(np.float32)
    labels_np = r.integers(0, v, n).astype(np.int32)
    logits = jnp.asarray(logits_np).astype(dtype)
    labels = jnp.asarray(labels_np)
    jl = lambda x, labels: jaxloss.sparse_softmax_cross_entropy(x, labels)
    ox = lambda x, labels: optax.softmax_cross_entropy_with_integer_labels(x, labels).mean()

    def tb():
        x = (
            _t(logits_np, True)
            if dtype == jnp.float32
            else _t(logits_np).to(torch.bfloat16).requires_grad_()
        )
        y = _t(labels_np).long()
        return [x], lambda: F.cross_entropy(x, y)

    isz = jnp.dtype(dtype).itemsize
    return dict(
        loss="sparse_softmax_cross_entropy",
        shape=f"{n}x{v}",
        dtype=jnp.dtype(dtype).name,
        args=(logits, labels),
        jaxloss=jl,
        optax=ox,
        torch=tb,
        bytes=2 * n * v * isz,
    )


def case_softmax_ce(n, v):
    r = _rng(2)
    logits_np = r.normal(size=(n, v)).astype(np.float32)
    t_np = r.uniform(size=(n, v)).astype(np.float32)
    t_np /= t_np.sum(-1, keepdims=True)
    logits, targets = jnp.asarray(logits_np), jnp.asarray(t_np)
    return dict(
        loss="softmax_cross_entropy",
        shape=f"{n}x{v}",
        dtype="float32",
        args=(logits, targets),
        jaxloss=lambda x, t: jaxloss.softmax_cross_entropy(x, t),
        optax=lambda x, t: optax.softmax_cross_entropy(x, t).mean(),
        torch=lambda: (lambda x, t: ([x], lambda: F.cross_entropy(x, t)))(
            _t(logits_np, True), _t(t_np)
        ),
        bytes=3 * n * v * 4,
    )


def _elem(name, n, m, jl, ox, tb, targets="real", seed=3):
    r = _rng(seed)
    p_np = r.normal(size=(n, m)).astype(np.float32)
    if targets == "binary":
        t_np = (r.uniform(size=(n, m)) > 0.5).astype(np.float32)
    elif targets == "sign":
        t_np = np.where(r.uniform(size=(n, m)) > 0.5, 1.0, -1.0).astype(np.float32)
    else:
        t_np = r.normal(size=(n, m)).astype(np.float32)
    p, t = jnp.asarray(p_np), jnp.asarray(t_np)
    torch_build = (
        None
        if tb is None
        else (lambda: (lambda x, y: ([x], lambda: tb(x, y)))(_t(p_np, True), _t(t_np)))
    )
    return dict(
        loss=name,
        shape=f"{n}x{m}",
        dtype="float32",
        args=(p, t),
        jaxloss=lambda x, t: jl(x, t),
        optax=lambda x, t: ox(x, t).mean(),
        torch=torch_build,
        bytes=3 * n * m * 4,
    )


def elementwise_cases(n, m):
    return [
        _elem(
            "sigmoid_binary_cross_entropy",
            n,
            m,
            jaxloss.sigmoid_binary_cross_entropy,
            optax.sigmoid_binary_cross_entropy,
            lambda x, y: F.binary_cross_entropy_with_logits(x, y),
            "binary",
        ),
        _elem(
            "sigmoid_focal_loss",
            n,
            m,
            jaxloss.sigmoid_focal_loss,
            lambda x, t: optax.sigmoid_focal_loss(x, t, alpha=0.25, gamma=2.0),
            None,
            "binary",
        ),
        _elem("hinge_loss", n, m, jaxloss.hinge_loss, optax.hinge_loss, None, "sign"),
        _elem(
            "huber_loss",
            n,
            m,
            jaxloss.huber_loss,
            lambda x, t: optax.huber_loss(x, t, delta=1.0),
            lambda x, y: F.huber_loss(x, y),
        ),
        _elem(
            "mean_squared_error",
            n,
            m,
            jaxloss.mean_squared_error,
            optax.squared_error,
            lambda x, y: F.mse_loss(x, y),
        ),
        _elem("log_cosh", n, m, jaxloss.log_cosh, optax.log_cosh, None),
    ]


def case_kl(n, v):
    r = _rng(4)
    lp_np = np.asarray(jax.nn.log_softmax(jnp.asarray(r.normal(size=(n, v)).astype(np.float32))))
    t_np = np.asarray(jax.nn.softmax(jnp.asarray(r.normal(size=(n, v)).astype(np.float32))))
    lp, t = jnp.asarray(lp_np), jnp.asarray(t_np)
    return dict(
        loss="kl_divergence",
        shape=f"{n}x{v}",
        dtype="float32",
        args=(lp, t),
        jaxloss=lambda x, t: jaxloss.kl_divergence(x, t),
        optax=lambda x, t: optax.kl_divergence(x, t).mean(),
        torch=lambda: (lambda x, y: ([x], lambda: F.kl_div(x, y, reduction="batchmean")))(
            _t(lp_np, True), _t(t_np)
        ),
        bytes=3 * n * v * 4,
    )


def case_ctc(b, t, k, label_len):
    r = _rng(5)
    logits_np = r.normal(size=(b, t, k)).astype(np.float32)
    lp = np.zeros((b, t), np.float32)
    lp[:, t - t // 8 :] = 1.0  # padded tail frames
    labels_np = r.integers(1, k, size=(b, label_len)).astype(np.int32)
    lab_pad = np.zeros((b, label_len), np.float32)
    lab_pad[:, label_len - label_len // 4 :] = 1.0
    logits, lpad, labels, lbpad = (jnp.asarray(a) for a in (logits_np, lp, labels_np, lab_pad))

    def tb():
        x = _t(logits_np, True)
        in_len = torch.from_numpy((lp == 0).sum(1)).long()
        tgt_len = torch.from_numpy((lab_pad == 0).sum(1)).long()
        tg = torch.from_numpy(labels_np).long()
        return (
            [x],
            lambda: (
                F.ctc_loss(
                    torch.log_softmax(x, -1).transpose(0, 1),
                    tg,
                    in_len,
                    tgt_len,
                    blank=0,
                    reduction="sum",
                )
                / b
            ),
        )

    return dict(
        loss="ctc_loss",
        shape=f"{b}x{t}x{k} L={label_len}",
        dtype="float32",
        args=(logits, lpad, labels, lbpad),
        jaxloss=lambda x, a, b, c: jaxloss.ctc_loss(x, a, b, c),
        optax=lambda x, a, b, c: optax.ctc_loss(x, a, b, c).mean(),
        torch=tb,
        bytes=2 * b * t * k * 4,
    )


def case_linear(n, d, v, chunk=None, method="auto", with_torch=True, max_reps=3):
    r = _rng(6)
    h_np = r.normal(size=(n, d)).astype(np.float32)
    w_np = (r.normal(size=(d, v)) / np.sqrt(d)).astype(np.float32)
    y_np = r.integers(0, v, n).astype(np.int32)
    h, w, y = jnp.asarray(h_np), jnp.asarray(w_np), jnp.asarray(y_np)

    def tb():
        th, tw = _t(h_np, True), _t(w_np, True)
        ty = _t(y_np).long()
        return [th, tw], lambda: F.cross_entropy(th @ tw, ty)

    label = "linear_cross_entropy" + ("" if method == "auto" else f"[{method}]")
    return dict(
        loss=label,
        shape=f"{n}x{d}x{v}",
        dtype="float32",
        args=(h, w, y),
        argnums=(0, 1),
        jaxloss=lambda h, w, y: jaxloss.linear_cross_entropy(
            h, w, y, chunk_size=chunk, method=method
        ),
        optax=lambda h, w, y: optax.softmax_cross_entropy_with_integer_labels(h @ w, y).mean(),
        torch=tb if with_torch else None,
        bytes=None,
        flops=3 * 2 * n * d * v,
        warmup=1,
        max_reps=max_reps,
        baseline="unfused optax(hidden @ weight)",
    )


# ------------------------------------------------------------------------------------------ driver


def run_case(case, reps, copy_gbs):
    argnums = case.get("argnums", 0)
    impls = [
        _jax_impl("jaxloss", case["jaxloss"], case["args"], argnums),
        _jax_impl("optax", case["optax"], case["args"], argnums),
        _torch_impl("torch", case["torch"]),
    ]
    # the fused linear case is matmul-bound and long on a CPU: fewer runs (stated in the JSON)
    reps = min(reps, case.get("max_reps", reps))
    measure(impls, reps, warmup=case.get("warmup", 2))
    jl, ox, th = impls
    row = dict(
        loss=case["loss"],
        shape=case["shape"],
        dtype=case["dtype"],
        baseline=case.get("baseline", "optax"),
        reps=reps,
        warmup=case.get("warmup", 2),
    )
    for impl in impls:
        row[f"{impl.name}_ms"] = None if impl.median is None else impl.median * 1e3
        row[f"{impl.name}_times_ms"] = [t * 1e3 for t in impl.times]
        row[f"{impl.name}_error"] = impl.error
        row[f"{impl.name}_compile_s"] = impl.compile_s
        row[f"{impl.name}_temp_bytes"] = impl.temp_bytes
    row["ratio"] = (jl.median / ox.median) if jl.median and ox.median else None
    if case.get("bytes") and jl.median:
        row["gbs"] = case["bytes"] / jl.median / 1e9
        row["pct_copy"] = 100 * row["gbs"] / copy_gbs
    if case.get("flops") and jl.median:
        row["gflops"] = case["flops"] / jl.median / 1e9
        if ox.median:
            row["optax_gflops"] = case["flops"] / ox.median / 1e9
    if jl.temp_bytes and ox.temp_bytes:
        row["temp_ratio"] = ox.temp_bytes / jl.temp_bytes
    return row


def _fmt(x, spec, na="n/a"):
    return na if x is None else format(x, spec)


def format_table(rows):
    head = (
        "loss",
        "shape",
        "dtype",
        "jaxloss ms",
        "optax ms",
        "torch ms",
        "jl/optax",
        "GB/s",
        "%copy",
        "temp MiB jl/optax",
        "compile s jl/optax",
    )
    lines = []
    for r in rows:
        mib = lambda b: None if b is None else b / 2**20
        perf = _fmt(r.get("gbs"), ".1f", "-")
        pct = _fmt(r.get("pct_copy"), ".0f", "-")
        if r.get("gflops"):
            perf, pct = f"{r['gflops']:.0f} GF/s", "-"
        lines.append(
            (
                r["loss"],
                r["shape"],
                r["dtype"],
                _fmt(r["jaxloss_ms"], ".1f"),
                _fmt(r["optax_ms"], ".1f"),
                _fmt(r["torch_ms"], ".1f"),
                _fmt(r["ratio"], ".2f"),
                perf,
                pct,
                f"{_fmt(mib(r['jaxloss_temp_bytes']), '.1f')}/"
                f"{_fmt(mib(r['optax_temp_bytes']), '.1f')}",
                f"{_fmt(r['jaxloss_compile_s'], '.2f')}/{_fmt(r['optax_compile_s'], '.2f')}",
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=False)]
    out = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=False)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    out += [
        "| " + " | ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=False)) + " |"
        for line in lines
    ]
    return "\n".join(out)


def device_info():
    dev = jax.devices()[0]
    info = dict(
        platform=dev.platform,
        device_kind=getattr(dev, "device_kind", str(dev)),
        jax=jax.__version__,
        jaxlib=jax.lib.__version__ if hasattr(jax, "lib") else None,
        optax=optax.__version__,
        torch=None if torch is None else torch.__version__,
        python=platform.python_version(),
        cpu_count=os.cpu_count(),
    )
    try:
        with open("/proc/cpuinfo") as fh:
            models = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        info["cpu_model"] = models[0] if models else platform.processor()
    except OSError:
        info["cpu_model"] = platform.processor()
    try:
        info["loadavg"] = os.getloadavg()
    except OSError:
        pass
    return info


def vocab_sweep(tokens, vocabs, reps):
    pts = []
    for v in vocabs:
        row = run_case(case_sparse_ce(tokens, v), reps, copy_gbs=1.0)
        pts.append(
            dict(
                vocab=v,
                jaxloss_ms=row["jaxloss_ms"],
                optax_ms=row["optax_ms"],
                torch_ms=row["torch_ms"],
            )
        )
    return pts


def plot_sweep(pts, tokens, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("jaxloss_ms", "jaxloss"), ("optax_ms", "optax"), ("torch_ms", "PyTorch")):
        xs = [p["vocab"] for p in pts if p[key] is not None]
        ys = [p[key] for p in pts if p[key] is not None]
        if xs:
            ax.plot(xs, ys, marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("vocabulary size")
    ax.set_ylabel("forward + backward time (ms)")
    ax.set_title(f"sparse cross-entropy, {tokens} tokens, float32 ({jax.devices()[0].platform})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


GROUPS = ("sparse", "softmax", "elementwise", "kl", "ctc", "linear", "sweep", "linear_methods")
DEFAULT_GROUPS = GROUPS[:-1]


def build_cases(size, groups, full_extras):
    s = SIZES[size]
    cases = []
    if "sparse" in groups:
        cases.append(case_sparse_ce(*s["ce"]))
        if full_extras:
            cases.append(case_sparse_ce(*s["ce"], dtype=jnp.bfloat16))
    if "softmax" in groups:
        cases.append(case_softmax_ce(*s["dense"]))
    if "elementwise" in groups:
        cases += elementwise_cases(*s["elem"])
    if "kl" in groups:
        cases.append(case_kl(*s["kl"]))
    if "ctc" in groups:
        cases.append(case_ctc(*s["ctc"]))
    if "linear" in groups:
        cases.append(
            case_linear(*s["linear"], chunk=s["linear_chunk"], max_reps=3 if full_extras else 5)
        )
    if "linear_methods" in groups:  # the other fused implementation (long on a CPU; not by default)
        cases.append(
            case_linear(
                *s["linear"],
                chunk=s["linear_chunk"],
                method="recompute",
                with_torch=False,
                max_reps=3,
            )
        )
    return cases


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="laptop-sized shapes")
    size.add_argument("--smoke", action="store_true", help="tiny shapes (CI smoke test)")
    p.add_argument(
        "--reps", type=int, default=None, help="timed interleaved runs per case (median)"
    )
    p.add_argument(
        "--only", default=",".join(DEFAULT_GROUPS), help=f"comma list of {', '.join(GROUPS)}"
    )
    p.add_argument(
        "--out", default=os.path.join("bench", "results"), help="directory for JSON + PNG"
    )
    p.add_argument("--no-plot", action="store_true")
    args = p.parse_args(argv)
    size = "smoke" if args.smoke else "quick" if args.quick else "full"
    reps = args.reps or (2 if size == "smoke" else 5)
    groups = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = set(groups) - set(GROUPS)
    if unknown:
        p.error(f"unknown groups {sorted(unknown)}; choose from {GROUPS}")
    if torch is not None:
        torch.manual_seed(0)

    info = device_info()
    s = SIZES[size]
    copy_bytes = s["ce"][0] * s["ce"][1] * 4
    copy_gbs, copy_s = copy_bandwidth(copy_bytes, max(reps, 5))
    print(
        f"# jaxloss bench ({size}) on {info['platform']} / {info['cpu_model']} "
        f"({info['cpu_count']} cores), "
        f"jax {info['jax']}, optax {info['optax']}, torch {info['torch']}",
        flush=True,
    )
    print(
        f"# copy bandwidth: {copy_gbs:.1f} GB/s (read + write of {copy_bytes / 2**20:.0f} MiB in "
        f"{copy_s * 1e3:.1f} ms); medians of {reps} interleaved runs after 2 warm-up runs",
        flush=True,
    )

    rows = []
    for case in build_cases(size, groups, full_extras=(size == "full")):
        t0 = time.perf_counter()
        row = run_case(case, reps, copy_gbs)
        rows.append(row)
        errs = "; ".join(f"{k[:-6]}: {row[k]}" for k in ("jaxloss_error", "optax_error") if row[k])
        print(
            f"  {row['loss']:<32} {row['shape']:<18} jaxloss {_fmt(row['jaxloss_ms'], '.1f')} ms, "
            f"optax {_fmt(row['optax_ms'], '.1f')} ms, torch {_fmt(row['torch_ms'], '.1f')} ms "
            f"[{time.perf_counter() - t0:.0f} s]{'  ' + errs if errs else ''}",
            flush=True,
        )

    sweep = []
    os.makedirs(args.out, exist_ok=True)
    if "sweep" in groups:
        sweep = vocab_sweep(s["vocab_tokens"], s["vocabs"], reps)
        if not args.no_plot:
            plot_sweep(sweep, s["vocab_tokens"], os.path.join(args.out, "ce_vocab.png"))

    table = format_table(rows)
    print()
    print(table)
    if sweep:
        print(f"\nsparse cross-entropy vs vocabulary ({s['vocab_tokens']} tokens, float32, ms):")
        print("| vocab | jaxloss | optax | torch |\n|---|---|---|---|")
        for pt in sweep:
            print(
                f"| {pt['vocab']} | {_fmt(pt['jaxloss_ms'], '.1f')} | "
                f"{_fmt(pt['optax_ms'], '.1f')} | "
                f"{_fmt(pt['torch_ms'], '.1f')} |"
            )
    result = dict(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        size=size,
        reps=reps,
        device=info,
        copy_gbs=copy_gbs,
        rows=rows,
        vocab_sweep=sweep,
        table=table,
    )
    with open(os.path.join(args.out, "results.json"), "w") as fh:
        json.dump(result, fh, indent=1, default=str)
    return result


if __name__ == "__main__":
    main()
