"""Tests of ctc_loss against brute force, a plain NumPy forward algorithm, optax and PyTorch.

The CTC scan is compiled once per input shape (jaxloss jits it internally); the tests reuse two
shapes (``small_case`` and ``main_case``) and call eagerly, so compile time stays small.
"""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss

from .helpers import (
    assert_close,
    assert_finite,
    debug_nans,
    grads_f64,
    reduce_ref,
    rng,
    to_torch,
    torch_or_skip,
)

# ---------------------------------------------------------------------------------------------
# float64 references, written plainly (never calling jaxloss)


def np_log_softmax(x):
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def ctc_forward_ref(log_probs, label, blank):
    """−log P(label | log_probs [T, K]) by the textbook forward recursion in log space."""
    T = log_probs.shape[0]
    ext = [blank]
    for lab in label:
        ext += [int(lab), blank]
    S = len(ext)
    if T == 0:
        return 0.0 if not label else np.inf
    alpha = np.full(S, -np.inf)
    alpha[0] = log_probs[0, blank]
    if S > 1:
        alpha[1] = log_probs[0, ext[1]]
    for t in range(1, T):
        new = np.full(S, -np.inf)
        for s in range(S):
            terms = [alpha[s]]
            if s >= 1:
                terms.append(alpha[s - 1])
            # odd positions hold the label symbols (whatever their id: test_unchecked.py reuses this
            # for a label equal to blank, which the loss treats as an ordinary symbol)
            if s >= 2 and s % 2 == 1 and ext[s] != ext[s - 2]:
                terms.append(alpha[s - 2])
            new[s] = functools.reduce(np.logaddexp, terms) + log_probs[t, ext[s]]
        alpha = new
    ll = alpha[S - 1] if S == 1 else np.logaddexp(alpha[S - 1], alpha[S - 2])
    return -ll


def ctc_brute_force(log_probs, label, blank):
    """−log Σ over every K^T path that collapses (merge repeats, drop blanks) to ``label``."""
    T, K = log_probs.shape
    total = 0.0
    for path in itertools.product(range(K), repeat=T):
        collapsed = [k for i, k in enumerate(path) if k != blank and (i == 0 or path[i - 1] != k)]
        if collapsed == list(label):
            total += np.exp(sum(log_probs[t, k] for t, k in enumerate(path)))
    return -np.log(total) if total > 0 else np.inf


def ref_losses(logits, input_lengths, labels, label_lengths, blank=0, ref=ctc_forward_ref):
    lp = np_log_softmax(logits)
    return np.array(
        [
            ref(lp[b, : input_lengths[b]], list(labels[b, : label_lengths[b]]), blank)
            for b in range(len(logits))
        ]
    )


def paddings(lengths, size):
    return (np.arange(size)[None, :] >= np.asarray(lengths)[:, None]).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# test data: two shapes


def small_case():
    """B=3, T=4, K=3, N=2: repeated label, empty label, padded frames (brute-force sized)."""
    logits = rng(0).normal(size=(3, 4, 3))
    labels = np.array([[1, 1], [2, 0], [2, 1]])
    label_lengths = np.array([2, 0, 2])
    input_lengths = np.array([4, 3, 3])
    return logits, input_lengths, labels, label_lengths


def main_case(seed=1, blank=0):
    """B=5, T=10, K=5, N=4: repeats, an empty label, padding on both axes, garbage in padding."""
    r = rng(seed)
    logits = r.normal(size=(5, 10, 5)) * 2
    non_blank = [k for k in range(5) if k != blank]
    labels = np.array(non_blank)[r.integers(0, 4, size=(5, 4))]
    labels[0, :3] = [non_blank[0], non_blank[0], non_blank[1]]  # repeat: needs a blank between
    labels[1] = [non_blank[2]] * 4  # 4 repeats: needs 7 frames
    label_lengths = np.array([3, 4, 0, 4, 2])
    input_lengths = np.array([10, 7, 6, 10, 3])
    labels = np.where(np.arange(4)[None] < label_lengths[:, None], labels, -1)  # padding id −1
    return logits, input_lengths, labels, label_lengths


def jl(logits, input_lengths, labels, label_lengths):
    """The case as jaxloss arguments."""
    return (
        jnp.asarray(logits),
        jnp.asarray(paddings(input_lengths, logits.shape[1])),
        jnp.asarray(labels),
        jnp.asarray(paddings(label_lengths, labels.shape[1])),
    )


def ctc(
    logits,
    logit_paddings,
    labels,
    label_paddings,
    weights=None,
    where=None,
    *,
    blank_id=0,
    reduction="none",
    zero_infinity=False,
):
    # eager on purpose: jaxloss jits the CTC scan internally (once per shape), and eager calls and
    # eager gradients reuse that compilation, whereas a jit around each variant would recompile it
    return jaxloss.ctc_loss(
        logits,
        logit_paddings,
        labels,
        label_paddings,
        blank_id=blank_id,
        weights=weights,
        where=where,
        reduction=reduction,
        zero_infinity=zero_infinity,
    )


def ctc_value_and_grad(
    logits,
    logit_paddings,
    labels,
    label_paddings,
    weights=None,
    where=None,
    *,
    blank_id=0,
    reduction="sum",
    zero_infinity=False,
):
    f = lambda x: jaxloss.ctc_loss(
        x,
        logit_paddings,
        labels,
        label_paddings,
        blank_id=blank_id,
        weights=weights,
        where=where,
        reduction=reduction,
        zero_infinity=zero_infinity,
    )
    return jax.value_and_grad(f)(logits)


# ---------------------------------------------------------------------------------------------
# values


def test_forward_reference_agrees_with_brute_force():
    # the NumPy forward recursion used below is itself checked against path enumeration
    case = small_case()
    assert_close(ref_losses(*case), ref_losses(*case, ref=ctc_brute_force))


def test_values_small_brute_force():
    case = small_case()
    got = ctc(*jl(*case))
    assert_close(got, ref_losses(*case, ref=ctc_brute_force))


@pytest.mark.parametrize("blank", [0, 4])
def test_values_main_numpy(blank):
    case = main_case(blank=blank)
    got = ctc(*jl(*case), blank_id=blank)
    want = ref_losses(*case, blank=blank)
    assert np.all(np.isfinite(want))
    assert_close(got, want)


def test_values_float32():
    logits, il, labels, ll = main_case()
    args = jl(logits.astype(np.float32), il, labels, ll)
    got = ctc(args[0], args[1].astype(jnp.float32), args[2], args[3].astype(jnp.float32))
    assert got.dtype == jnp.float32
    want = ref_losses(logits.astype(np.float32), il, labels, ll)
    assert_close(got, want, np.float32, rtol=2e-5, atol=2e-5)


# ---------------------------------------------------------------------------------------------
# optax and PyTorch


def test_against_optax_values_and_grads():
    optax = pytest.importorskip("optax")
    case = main_case(seed=2)
    args = jl(*case)
    # optax needs in-range ids in the padding too (its one-hot of −1 is fine, but be plain)
    labels_ok = jnp.where(args[3] == 0, args[2], 0)
    value, grad = ctc_value_and_grad(*args)

    def f_optax(x):
        per_seq = optax.ctc_loss(x, args[1], labels_ok, args[3], blank_id=0)
        return jnp.sum(per_seq), per_seq

    with jax.numpy_dtype_promotion("standard"):  # optax mixes float32 and float64 internally
        (want_value, want), want_grad = jax.jit(jax.value_and_grad(f_optax, has_aux=True))(args[0])
    assert_close(ctc(*args), want, rtol=1e-9, atol=1e-9)
    assert_close(value, want_value, rtol=1e-9, atol=1e-9)
    assert_close(grad, want_grad, rtol=1e-7, atol=1e-9)


def _torch_ctc(
    torch,
    logits,
    input_lengths,
    labels,
    label_lengths,
    blank=0,
    reduction="none",
    zero_infinity=False,
):
    x = to_torch(logits, torch).requires_grad_(True)
    log_probs = torch.log_softmax(x, dim=-1).transpose(0, 1)  # [T, B, C]
    targets = to_torch(
        np.where(labels < 0, 1 if blank == 0 else 0, labels), torch
    )  # padding: ignored by length
    loss = torch.nn.functional.ctc_loss(
        log_probs,
        targets,
        to_torch(input_lengths, torch),
        to_torch(label_lengths, torch),
        blank=blank,
        reduction=reduction,
        zero_infinity=zero_infinity,
    )
    (grad,) = torch.autograd.grad(loss.sum(), x)
    return loss.detach().numpy(), grad.numpy()


@pytest.mark.parametrize("blank", [0, 4])
def test_against_torch_values_and_grads(blank):
    torch = torch_or_skip()
    case = main_case(seed=3, blank=blank)
    args = jl(*case)
    want, want_grad = _torch_ctc(torch, *case, blank=blank, reduction="none")
    assert_close(ctc(*args, blank_id=blank), want)
    _, grad = ctc_value_and_grad(*args, blank_id=blank, reduction="sum")
    assert_close(grad, want_grad, rtol=1e-8, atol=1e-10)
    # PyTorch's reduction="mean" divides by the target lengths (clamped at 1): "mean_per_label"
    want, want_grad = _torch_ctc(torch, *case, blank=blank, reduction="mean")
    value, grad = ctc_value_and_grad(*args, blank_id=blank, reduction="mean_per_label")
    assert_close(value, want)
    assert_close(grad, want_grad, rtol=1e-8, atol=1e-10)


def test_torch_impossible_alignment_and_zero_infinity():
    torch = torch_or_skip()
    logits, il, labels, ll = main_case(seed=4)
    il = il.copy()
    il[1] = 6  # four repeats need 7 frames: impossible
    il[4] = 1  # two labels in one frame: impossible
    args = jl(logits, il, labels, ll)
    want, _ = _torch_ctc(torch, logits, il, labels, ll, reduction="none")
    got = ctc(*args)
    assert np.isinf(want[1]) and np.isinf(want[4])
    assert_close(got, want)  # +inf where PyTorch gives +inf, equal elsewhere
    value, grad = ctc_value_and_grad(*args, reduction="sum")
    assert float(value) == np.inf
    g = np.asarray(grad)
    assert_finite(g)
    assert np.all(g[1] == 0.0) and np.all(
        g[4] == 0.0
    )  # impossible sequences: exactly zero gradient
    want, want_grad = _torch_ctc(
        torch, logits, il, labels, ll, reduction="mean", zero_infinity=True
    )
    value, grad = ctc_value_and_grad(*args, reduction="mean_per_label", zero_infinity=True)
    assert_close(value, want)
    assert_close(grad, want_grad, rtol=1e-8, atol=1e-10)


def test_ctcloss_alias_is_torch_class():
    # get("CTCLoss") is PyTorch's class: its argument layout, "mean" per target length (issue 10)
    torch = torch_or_skip()
    logits, il, labels, ll = main_case(seed=5)
    want, _ = _torch_ctc(torch, logits, il, labels, ll, reduction="mean")
    log_probs = jnp.swapaxes(jax.nn.log_softmax(jnp.asarray(logits), axis=-1), 0, 1)
    targets = jnp.asarray(np.where(labels < 0, 1, labels))
    got = jaxloss.get("CTCLoss")(log_probs, targets, jnp.asarray(il), jnp.asarray(ll))
    assert_close(got, want)
    assert jaxloss.get("ctc") is jaxloss.ctc_loss


# ---------------------------------------------------------------------------------------------
# gradients


def test_grads_finite_differences_small():
    logits, il, labels, ll = small_case()
    _, lp, lab, lbp = jl(logits, il, labels, ll)
    f = lambda x: jaxloss.ctc_loss(x, lp, lab, lbp, reduction="sum")
    grads_f64(f, (logits,), order=1, modes=("rev",))


def test_grad_against_reference_gradient():
    # jax.grad of ctc_loss against the gradient of the plain reference: for log-softmax inputs,
    # ∂ℓ/∂logits_{t,k} = y_{t,k} − (1/P) Σ_{s: ext_s = k} α_t(s) β_t(s) — here by central
    # differences of the NumPy brute-force reference (independent of jax)
    logits, il, labels, ll = small_case()
    _, grad = ctc_value_and_grad(*jl(logits, il, labels, ll), reduction="sum")
    eps = 1e-6
    num = np.zeros_like(logits)
    for idx in np.ndindex(*logits.shape):
        up, dn = logits.copy(), logits.copy()
        up[idx] += eps
        dn[idx] -= eps
        num[idx] = (ref_losses(up, il, labels, ll).sum() - ref_losses(dn, il, labels, ll).sum()) / (
            2 * eps
        )
    assert_close(grad, num, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# jit / vmap


def test_jit_and_vmap_match_loop():
    cases = [jl(*main_case(seed=6)), jl(*main_case(seed=7))]
    args = cases[0]
    eager = jaxloss.ctc_loss(*args, reduction="none")
    assert_close(jax.jit(lambda *a: jaxloss.ctc_loss(*a, reduction="none"))(*args), eager)
    # vmap over an outer batch axis equals a loop over it
    stacked = [jnp.stack(parts) for parts in zip(*cases, strict=False)]
    vm = jax.vmap(lambda *a: jaxloss.ctc_loss(*a, reduction="none"))(*stacked)
    loop = np.stack([np.asarray(ctc(*[s[i] for s in stacked])) for i in range(2)])
    assert_close(vm, loop)


# ---------------------------------------------------------------------------------------------
# reductions


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "mean_per_label"])
def test_reductions_weights_where(reduction):
    case = main_case(seed=7)
    args = jl(*case)
    ref = ref_losses(*case)
    w = rng(8).uniform(size=(5,))
    m = np.array([True, False, True, True, False])
    got = ctc(*args, jnp.asarray(w), jnp.asarray(m), reduction=reduction)
    if reduction == "mean_per_label":
        want = reduce_ref(ref / np.maximum(case[3], 1), w, m, "mean")
    else:
        want = reduce_ref(ref, w, m, reduction)
    assert_close(got, want)
    if reduction == "none":
        assert np.all(np.asarray(got)[~m] == 0.0)


def test_all_masked_is_exact_zero_with_zero_grad():
    args = jl(*main_case(seed=9))
    value, grad = ctc_value_and_grad(*args, None, jnp.zeros((5,), bool), reduction="mean")
    assert float(value) == 0.0
    assert np.all(np.asarray(grad) == 0.0)


def test_zero_weight_or_mask_removes_an_infinite_loss():
    logits, il, labels, ll = main_case(seed=10)
    il = il.copy()
    il[4] = 1  # impossible
    args = jl(logits, il, labels, ll)
    w = jnp.asarray([1.0, 2.0, 1.0, 1.0, 0.0])
    m = jnp.asarray([True, True, True, True, False])
    want = ref_losses(logits, il, labels, ll)
    value, grad = ctc_value_and_grad(*args, w, None, reduction="mean")
    assert_close(value, np.sum(np.asarray(w[:4]) * want[:4]) / 5.0)
    assert_finite(grad)
    value, grad = ctc_value_and_grad(*args, None, m, reduction="mean")
    assert_close(value, want[:4].mean())
    assert_finite(grad)


# ---------------------------------------------------------------------------------------------
# edge cases


def test_empty_label_and_empty_input():
    logits, il, labels, ll = small_case()
    il = np.array([0, 0, 4])  # no frames at all for the first two rows
    got = ctc(*jl(logits, il, labels, ll))
    # empty input: P(empty label) = 1 → 0; a non-empty label is impossible → +inf
    assert float(got[0]) == np.inf and float(got[1]) == 0.0
    # empty label on real frames: −Σ_t log softmax(logits_t)_blank
    logits2, il2, labels2, ll2 = small_case()
    got2 = ctc(*jl(logits2, il2, labels2, ll2))
    assert_close(got2[1], -np_log_softmax(logits2[1, :3])[:, 0].sum())


def test_neg_inf_logits_masked_classes():
    logits, il, labels, ll = main_case(seed=11)
    masked = logits.copy()
    masked[:, :, 3] = -np.inf  # a class that never occurs in the labels below
    labels = np.where(labels == 3, 1, labels)
    args = jl(masked, il, labels, ll)
    value, grad = ctc_value_and_grad(*args, reduction="sum")
    want = ref_losses(masked, il, labels, ll)
    assert_close(ctc(*args), want)
    assert_finite(value)
    assert_finite(grad)
    # the masked class is exactly as if it were absent from the vocabulary
    assert_close(
        want, ref_losses(np.delete(logits, 3, axis=-1), il, np.where(labels == 4, 3, labels), ll)
    )
    with debug_nans():
        ctc_value_and_grad(*args, reduction="sum")


def test_jvp_and_hessian_finite_with_masked_classes():
    # CTC is smooth in the logits: jvp and hessian are finite, also with −inf logits and ±1e4
    logits, il, labels, ll = small_case()
    x = logits.copy()
    x[:, :, 2] = -np.inf
    x[0, 1, :2] = [1e4, -1e4]
    labels = np.where(labels == 2, 1, labels)
    _, lp, lab, lbp = jl(x, il, labels, ll)
    f = lambda z: jaxloss.ctc_loss(z, lp, lab, lbp)
    assert_close(f(jnp.asarray(x)), ref_losses(x, il, labels, ll).mean())
    assert_finite(jax.jvp(f, (jnp.asarray(x),), (jnp.ones_like(jnp.asarray(x)),)))
    assert_finite(jax.jit(jax.hessian(f))(jnp.asarray(x)))


def test_large_logits_and_never_negative():
    logits, il, labels, ll = main_case(seed=12)
    big = np.clip(logits * 1e4, -1e4, 1e4)
    args = jl(big, il, labels, ll)
    value, grad = ctc_value_and_grad(*args, reduction="sum")
    assert_finite(grad)
    got = np.asarray(ctc(*args))
    assert np.all(got >= 0.0)
    assert_close(
        got[np.isfinite(got)], ref_losses(big, il, labels, ll)[np.isfinite(got)], rtol=1e-9
    )
    # a certain path: log P = 0 exactly, the loss is exactly 0 (never −0.0 or below)
    sure = np.full((1, 4, 3), -1e4)
    sure[0, [0, 1, 2, 3], [1, 0, 2, 0]] = 1e4
    loss = jaxloss.ctc_loss(
        jnp.asarray(sure),
        jnp.zeros((1, 4)),
        jnp.asarray([[1, 2]]),
        jnp.zeros((1, 2)),
        reduction="none",
    )
    assert float(loss[0]) == 0.0 and not np.signbit(float(loss[0]))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision(dtype):
    logits, il, labels, ll = small_case()
    x = jnp.asarray(logits, dtype)
    lp, lbp = jnp.asarray(paddings(il, 4), dtype), jnp.asarray(paddings(ll, 2), dtype)
    f = lambda z: jaxloss.ctc_loss(z, lp, jnp.asarray(labels), lbp, reduction="sum")
    value, grad = jax.value_and_grad(f)(x)
    assert value.dtype == jnp.float32 and grad.dtype == dtype
    want = ref_losses(np.asarray(x.astype(jnp.float64)), il, labels, ll).sum()
    assert_close(value, want, np.float32, rtol=1e-5, atol=1e-5)
    assert_finite(grad)


# ---------------------------------------------------------------------------------------------
# trace-time errors


def test_errors():
    x, lp, lab, lbp = jl(*small_case())
    with pytest.raises(ValueError, match="ctc_loss: 'logits'"):
        jaxloss.ctc_loss(x[0], lp, lab, lbp)
    with pytest.raises(ValueError, match="ctc_loss: 'logit_paddings'"):
        jaxloss.ctc_loss(x, lp[:, :3], lab, lbp)
    with pytest.raises(TypeError, match="ctc_loss: 'labels'"):
        jaxloss.ctc_loss(x, lp, lab.astype(jnp.float32), lbp)
    with pytest.raises(ValueError, match="ctc_loss: 'labels'"):
        jaxloss.ctc_loss(x, lp, lab[:2], lbp[:2])
    with pytest.raises(ValueError, match="ctc_loss: 'label_paddings'"):
        jaxloss.ctc_loss(x, lp, lab, lbp[:, :1])
    with pytest.raises(ValueError, match="ctc_loss: 'blank_id'"):
        jaxloss.ctc_loss(x, lp, lab, lbp, blank_id=3)
    with pytest.raises(ValueError, match="ctc_loss: 'reduction'"):
        jaxloss.ctc_loss(x, lp, lab, lbp, reduction="batchmean")
    with pytest.raises(ValueError, match="ctc_loss: 'weights'"):
        jaxloss.ctc_loss(x, lp, lab, lbp, weights=jnp.ones(4))


def test_registry():
    assert "ctc_loss" in jaxloss.list_losses()
    assert jaxloss.get("ctc_loss") is jaxloss.ctc_loss
    # case-insensitive; PyTorch's class (issue 10), whose canonical layout is ctc_loss
    assert jaxloss.get("ctcloss").__name__ == "CTCLoss"
    assert "jaxloss.ctc_loss" in jaxloss.get("ctcloss").__doc__
