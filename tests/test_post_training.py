"""Tests of the logits-level post-training losses (API.md §7, issue 13).

token_log_probs, dpo_loss, simpo_loss, orpo_loss, kto_loss, grpo_loss, distillation_loss against
float64 NumPy references written plainly from the papers (never calling jaxloss), plus PyTorch
transcriptions where torch is installed, gradients (check_grads), jit / vmap over
hyperparameters, and the edge cases of API.md §1 (masked -inf logits, ±1e4 logits, empty GRPO
masks, ORPO at x → 0⁻, half-precision inputs).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxloss

from .helpers import reduce_ref

F = jnp.float64
INF = np.inf


def R(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------
# float64 NumPy references, written plainly from the papers


def np_log_softmax(x):
    x = np.asarray(x, np.float64)
    m = np.max(np.where(np.isneginf(x), -np.inf, x), axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def np_logsig(x):
    x = np.asarray(x, np.float64)
    return -np.logaddexp(0.0, -x)


def np_sig(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def tlp_ref(logits, tokens, tau=1.0):
    ls = np_log_softmax(np.asarray(logits, np.float64) / tau)
    lp = np.take_along_axis(ls, np.asarray(tokens)[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore"):
        ent = -np.sum(np.where(np.isneginf(ls), 0.0, np.exp(ls) * ls), -1)
    return lp, ent


def dpo_ref(c, r, rc, rr, beta, loss_type, eps):
    """Rafailov et al. 2023 (sigmoid, cDPO smoothing), Azar et al. (IPO), Chowdhury et al.
    (robust), SLiC hinge."""
    d = (np.float64(c) - r) - (np.float64(rc) - rr)
    z = beta * d
    if loss_type == "sigmoid":
        return -(1 - eps) * np_logsig(z) - eps * np_logsig(-z)
    if loss_type == "hinge":
        return np.maximum(0.0, 1 - z)
    if loss_type == "ipo":
        return (d - 1 / (2 * beta)) ** 2
    return ((1 - eps) * -np_logsig(z) + eps * np_logsig(-z)) / (1 - 2 * eps)


def simpo_ref(c, r, beta, gamma, eps):
    z = beta * (np.float64(c) - r) - gamma
    return -(1 - eps) * np_logsig(z) - eps * np_logsig(-z)


def orpo_ref(c, r, beta):
    """Hong et al. 2024: odds(y) = P / (1 − P) with P = exp(mean log-prob); high precision via
    mpmath-free float64 (inputs kept away from the extremes here)."""
    c, r = np.float64(c), np.float64(r)
    odds_c = np.exp(c) / (1 - np.exp(c))
    odds_r = np.exp(r) / (1 - np.exp(r))
    return -c - beta * np_logsig(np.log(odds_c / odds_r))


def kto_ref(lp, ref, good, beta, kl, wd, wu):
    r = np.float64(lp) - ref
    z = max(kl, 0.0)
    return np.where(good, wd * (1 - np_sig(beta * (r - z))), wu * (1 - np_sig(beta * (z - r))))


def grpo_ref(lp, old, adv, mask, ref=None, beta=0.0, el=0.2, eh=None, loss_type="grpo", tmax=None):
    """Shao et al. 2024 (GRPO), Yu et al. 2025 (DAPO clip-higher, token-level), Liu et al. 2025
    (Dr. GRPO), token by token in plain loops."""
    eh = el if eh is None else eh
    B, T = lp.shape
    per = np.zeros((B, T))
    for b in range(B):
        for t in range(T):
            if not mask[b, t]:
                continue
            rho = math.exp(lp[b, t] - old[b, t])
            a = adv[b]
            loss = -min(rho * a, min(max(rho, 1 - el), 1 + eh) * a)
            if ref is not None:
                d = ref[b, t] - lp[b, t]
                loss += beta * (math.exp(d) - d - 1)
            per[b, t] = loss
    m = mask.astype(np.float64)
    if loss_type == "grpo":
        seq = [per[b].sum() / m[b].sum() if m[b].sum() > 0 else 0.0 for b in range(B)]
        return sum(seq) / B, per
    if loss_type in ("bnpo", "dapo"):
        return (per.sum() / m.sum() if m.sum() > 0 else 0.0), per
    return per.sum() / (B * (T if tmax is None else tmax)), per


def gjsd_ref(s, t, beta, tau=1.0):
    """Agarwal et al. 2024 / TRL GKD generalized JSD, in probability space, float64."""
    ls, lt = np_log_softmax(np.asarray(s) / tau), np_log_softmax(np.asarray(t) / tau)
    ps, pt = np.exp(ls), np.exp(lt)

    def kl(p, lp, lq):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sum(np.where(p > 0, p * (lp - lq), 0.0), -1)

    if beta == 0:
        return kl(pt, lt, ls)
    if beta == 1:
        return kl(ps, ls, lt)
    m = beta * pt + (1 - beta) * ps
    with np.errstate(divide="ignore"):
        lm = np.log(m)
    return beta * kl(pt, lt, lm) + (1 - beta) * kl(ps, ls, lm)


def J(x, dt=F):
    return jnp.asarray(x, dt)


def cg(f, args, order=1, modes=("rev",)):
    """check_grads of the jitted function (one compile instead of op-by-op dispatch)."""
    check_grads(jax.jit(f), args, order=order, modes=modes)


# ---------------------------------------------------------------------------------------------
# token_log_probs


def test_token_log_probs_matches_reference_with_temperature_entropy_and_axis():
    x = R(0).normal(size=(2, 3, 7)) * 3
    x[0, 1, 2] = -INF  # masked vocabulary entries
    x[1, 2, :3] = -INF
    y = np.array([[0, 1, 6], [2, 4, 5]])
    for tau in (1.0, 0.7):
        lp, ent = jaxloss.token_log_probs(
            J(x), jnp.asarray(y), temperature=tau, return_entropy=True
        )
        lp_r, ent_r = tlp_ref(x, y, tau)
        np.testing.assert_allclose(lp, lp_r, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ent, ent_r, rtol=1e-12, atol=1e-12)
    # the vocabulary on another axis
    lp_ax = jaxloss.token_log_probs(J(np.moveaxis(x, -1, 1)), jnp.asarray(y), axis=1)
    np.testing.assert_allclose(lp_ax, tlp_ref(x, y)[0], rtol=1e-12)
    assert jaxloss.selective_log_softmax is jaxloss.token_log_probs


@jax.jit
def _tlp_vg(x, y, t):
    """(log_probs, entropy) and the gradient of their total, compiled once per shape / dtype."""

    def f(z):
        lp, ent = jaxloss.token_log_probs(z, y, temperature=t, return_entropy=True)
        return jnp.sum(lp) + jnp.sum(ent), (lp, ent)

    (_, out), g = jax.value_and_grad(f, has_aux=True)(x)
    return out, g


def test_token_log_probs_extremes_are_finite_and_grads_check():
    x = np.array([[1e4, -1e4, 0.0, -INF], [-INF, -INF, 5.0, -INF]])
    (lp, ent), g = _tlp_vg(J(x), jnp.asarray([1, 2]), J(1.0))
    np.testing.assert_allclose(lp, [-2e4, 0.0], rtol=1e-12)
    np.testing.assert_allclose(ent, [0.0, 0.0], atol=1e-12)
    assert np.all(np.isfinite(g))
    xs = J(R(1).normal(size=(3, 5)))
    ys = jnp.asarray([0, 3, 4])
    cg(lambda z, t: jnp.sum(jnp.stack(_tlp_vg(z, ys, t)[0])), (xs, J(0.8)))


def test_token_log_probs_half_precision_and_out_of_range_tokens():
    x = R(2).normal(size=(4, 6)) * 4
    y = np.array([0, 5, 2, 3])
    for dt in (jnp.bfloat16, jnp.float16):
        (lp, ent), g = _tlp_vg(J(x, dt), jnp.asarray(y), J(1.0, jnp.float32))
        assert lp.dtype == ent.dtype == jnp.float32 and g.dtype == dt
        xr = np.asarray(J(x, dt).astype(F))
        np.testing.assert_allclose(lp, tlp_ref(xr, y)[0], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(ent, tlp_ref(xr, y)[1], rtol=1e-5, atol=1e-5)
    bad = jnp.asarray([0, 6, -1, 3])
    (out, _), g = _tlp_vg(J(x), bad, J(1.0))
    out = np.asarray(out)
    assert np.isnan(out[1]) and np.isnan(out[2]) and np.all(np.isfinite(out[[0, 3]]))
    assert np.all(np.isnan(g[1])) and np.all(np.isfinite(g[0]))
    with pytest.raises(ValueError, match="token_log_probs: 'tokens' must have the shape"):
        jaxloss.token_log_probs(J(x), jnp.asarray([0, 1]))
    with pytest.raises(TypeError, match="token_log_probs: 'tokens' must be integer"):
        jaxloss.token_log_probs(J(x), J(y))
    with pytest.raises(ValueError, match="token_log_probs: 'temperature' must be positive"):
        jaxloss.token_log_probs(J(x), jnp.asarray(y), temperature=0.0)


# ---------------------------------------------------------------------------------------------
# DPO, SimPO, ORPO, KTO


def _pairs(seed=3, n=6):
    g = R(seed)
    return [-np.abs(g.normal(size=n)) * 10 - 1 for _ in range(4)]


@pytest.mark.parametrize(
    "loss_type,eps",
    [("sigmoid", 0.0), ("sigmoid", 0.1), ("hinge", 0.0), ("ipo", 0.0), ("robust", 0.2)],
)
def test_dpo_matches_reference(loss_type, eps):
    c, r, rc, rr = _pairs()
    w = R(4).uniform(0, 2, size=6)
    m = np.array([True, True, False, True, True, True])
    for beta in (0.1, 0.5):
        ref = dpo_ref(c, r, rc, rr, beta, loss_type, eps)
        for red in ("none", "mean", "sum"):
            got = jaxloss.dpo_loss(
                *map(J, (c, r, rc, rr)),
                beta=beta,
                loss_type=loss_type,
                label_smoothing=eps,
                weights=J(w),
                where=jnp.asarray(m),
                reduction=red,
            )
            np.testing.assert_allclose(got, reduce_ref(ref, w, m, red), rtol=1e-12, atol=1e-13)


def test_dpo_against_torch_transcription():
    torch = pytest.importorskip("torch")
    F_ = torch.nn.functional
    c, r, rc, rr = _pairs(5)
    beta, eps = 0.3, 0.1
    tc, tr, trc, trr = (torch.tensor(a, dtype=torch.float64) for a in (c, r, rc, rr))
    logits = (tc - tr) - (trc - trr)
    # TRL DPOTrainer "sigmoid" and "robust", transcribed
    sig = -F_.logsigmoid(beta * logits) * (1 - eps) - F_.logsigmoid(-beta * logits) * eps
    rob = (-F_.logsigmoid(beta * logits) * (1 - eps) + F_.logsigmoid(-beta * logits) * eps) / (
        1 - 2 * eps
    )
    for lt, ref in (("sigmoid", sig), ("robust", rob)):
        got = jaxloss.dpo_loss(
            *map(J, (c, r, rc, rr)), beta=beta, loss_type=lt, label_smoothing=eps, reduction="none"
        )
        np.testing.assert_allclose(got, ref.numpy(), rtol=1e-12)


def test_simpo_orpo_kto_match_references():
    c, r, _, _ = _pairs(6)
    for beta, gamma, eps in ((2.0, 0.5, 0.0), (1.0, 1.4, 0.2)):
        got = jaxloss.simpo_loss(
            J(c), J(r), beta=beta, gamma=gamma, label_smoothing=eps, reduction="none"
        )
        np.testing.assert_allclose(got, simpo_ref(c, r, beta, gamma, eps), rtol=1e-12)
    cm, rm = c / 10, r / 10  # mean per-token log-probs in (-3, -0.1)
    for beta in (0.1, 1.0):
        got = jaxloss.orpo_loss(J(cm), J(rm), beta=beta, reduction="none")
        np.testing.assert_allclose(got, orpo_ref(cm, rm, beta), rtol=1e-11)
    lp, ref = c, r + R(7).normal(size=6)
    good = np.array([True, False, True, True, False, False])
    for beta, kl, wd, wu in ((0.1, 0.0, 1.0, 1.0), (0.5, 0.3, 1.5, 0.7), (0.5, -0.3, 1.0, 2.0)):
        got = jaxloss.kto_loss(
            J(lp),
            J(ref),
            jnp.asarray(good),
            beta=beta,
            kl=kl,
            desirable_weight=wd,
            undesirable_weight=wu,
            reduction="none",
        )
        np.testing.assert_allclose(got, kto_ref(lp, ref, good, beta, kl, wd, wu), rtol=1e-12)
    # the KL reference point gets no gradient
    gkl = jax.grad(lambda k: jaxloss.kto_loss(J(lp), J(ref), jnp.asarray(good), kl=k))(J(0.3))
    assert float(gkl) == 0.0


def test_orpo_log1mexp_is_stable_at_both_ends():
    # x -> 0^-: log(1 - e^x) ~ log(-x); x -> -inf: log(1 - e^x) -> 0
    c = J([-1e-12, -1e-300, 0.0, -0.7, -1e3, -700.0])
    r = J([-2.0, -2.0, -2.0, -0.6931, -1e3 - 1, -50.0])
    v = jaxloss.orpo_loss(c, r, reduction="none")
    g = jax.grad(lambda a, b: jaxloss.orpo_loss(a, b), argnums=(0, 1))(c, r)
    assert np.all(np.isfinite(v)) and all(np.all(np.isfinite(x)) for x in g)
    # the log-odds near 0^- against the exact asymptotics: L = c - r - log(-c) + log(1 - e^r)
    cc, rr = -1e-12, -2.0
    lo = cc - rr - math.log(-math.expm1(cc)) + math.log1p(-math.exp(rr))
    np.testing.assert_allclose(v[0], -cc - 0.1 * -math.log1p(math.exp(-lo)), rtol=1e-12)
    # far tail: both odds ~ e^x, L = c - r exactly in float64
    np.testing.assert_allclose(v[4], 1e3 - 0.1 * float(np_logsig(1.0)), rtol=1e-12)
    # float32 near the switch point -log 2 and near 0
    c32 = J([-1e-7, -0.69314, -0.69316, -30.0], jnp.float32)
    v32 = jaxloss.orpo_loss(c32, J([-1.0] * 4, jnp.float32), reduction="none")
    ref32 = orpo_ref(np.asarray(c32, np.float64), -1.0, 0.1)
    np.testing.assert_allclose(v32, ref32, rtol=2e-6)


def test_preference_grads_and_vmap_over_hyperparameters():
    c, r, rc, rr = (J(a) for a in _pairs(8, 4))
    for lt in ("sigmoid", "hinge", "ipo", "robust"):
        cg(
            lambda a, b, be: jaxloss.dpo_loss(
                a, b, rc, rr, beta=be, loss_type=lt, label_smoothing=0.1
            ),
            (c, r, J(0.3)),
            order=1,
            modes=("rev",),
        )
    cg(
        lambda a, b, be, ga: jaxloss.simpo_loss(a, b, beta=be, gamma=ga),
        (c / 10, r / 10, J(2.0), J(0.5)),
        order=1,
        modes=("rev",),
    )
    cg(
        lambda a, b, be: jaxloss.orpo_loss(a, b, beta=be),
        (c / 10, r / 10, J(0.2)),
        order=1,
        modes=("rev",),
    )
    good = jnp.asarray([True, False, True, False])
    cg(
        lambda a, b, be: jaxloss.kto_loss(a, b, good, beta=be, kl=0.1),
        (c, r, J(0.5)),
        order=1,
        modes=("rev",),
    )
    betas = J([0.05, 0.1, 0.5])
    vm = jax.jit(jax.vmap(lambda b: jaxloss.dpo_loss(c, r, rc, rr, beta=b)))(betas)
    ref = [
        np.mean(dpo_ref(*map(np.asarray, (c, r, rc, rr)), float(b), "sigmoid", 0.0)) for b in betas
    ]
    np.testing.assert_allclose(vm, ref, rtol=1e-12)
    vs = jax.vmap(lambda g: jaxloss.simpo_loss(c, r, gamma=g))(J([0.0, 1.0]))
    assert vs.shape == (2,) and vs[0] < vs[1]


@pytest.mark.slow
def test_preference_second_order_grads():
    c, r, rc, rr = (J(a) for a in _pairs(9, 3))
    cg(lambda a, b: jaxloss.dpo_loss(a, b, rc, rr, label_smoothing=0.1), (c, r), order=2)
    cg(lambda a, b: jaxloss.orpo_loss(a, b), (c / 10, r / 10), order=2)
    cg(lambda a: jaxloss.kto_loss(a, r, jnp.asarray([1, 0, 1], bool)), (c,), order=2)


def test_preference_half_precision_and_argument_errors():
    c, r, rc, rr = _pairs(10, 4)
    for dt in (jnp.bfloat16, jnp.float16):
        args = [J(a, dt) for a in (c, r, rc, rr)]
        v = jaxloss.dpo_loss(*args, reduction="none")
        assert v.dtype == jnp.float32
        exact = [np.asarray(a.astype(F)) for a in args]
        np.testing.assert_allclose(v, dpo_ref(*exact, 0.1, "sigmoid", 0.0), rtol=1e-5)
        g = jax.grad(lambda a: jaxloss.orpo_loss(a, args[1] / 10))(args[0] / 10)
        assert g.dtype == dt and np.all(np.isfinite(np.asarray(g, np.float32)))
    with pytest.raises(ValueError, match="dpo_loss: 'loss_type' must be one of"):
        jaxloss.dpo_loss(*map(J, (c, r, rc, rr)), loss_type="nope")
    with pytest.raises(ValueError, match="dpo_loss: 'beta' must be positive"):
        jaxloss.dpo_loss(*map(J, (c, r, rc, rr)), beta=0.0)
    with pytest.raises(ValueError, match="dpo_loss: 'label_smoothing' must be < 0.5 for"):
        jaxloss.dpo_loss(*map(J, (c, r, rc, rr)), loss_type="robust", label_smoothing=0.5)
    with pytest.raises(ValueError, match="dpo_loss: 'chosen_logps' and 'ref_rejected_logps'"):
        jaxloss.dpo_loss(*map(J, (c, r, rc, rr[:2])))
    with pytest.raises(TypeError, match="simpo_loss: 'rejected_logps' must be a floating"):
        jaxloss.simpo_loss(J(c), jnp.asarray([1, 2, 3, 4]))
    with pytest.raises(TypeError, match="kto_loss: 'desirable' must be a boolean"):
        jaxloss.kto_loss(J(c), J(r), J([1.0, 0, 1, 0]))
    with pytest.raises(ValueError, match="'where' of shape"):
        jaxloss.orpo_loss(J(c) / 10, J(r) / 10, where=jnp.ones(3, bool))


# ---------------------------------------------------------------------------------------------
# GRPO


def _grpo_inputs(seed=11, B=3, T=5):
    g = R(seed)
    lp = -np.abs(g.normal(size=(B, T)))
    old = lp + g.normal(size=(B, T)) * 0.3
    ref = lp + g.normal(size=(B, T)) * 0.2
    adv = g.normal(size=B)
    mask = g.uniform(size=(B, T)) < 0.7
    mask[0] = True
    mask[2] = False  # an empty completion
    return lp, old, ref, adv, mask


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dapo", "dr_grpo"])
def test_grpo_matches_reference(loss_type):
    lp, old, ref, adv, mask = _grpo_inputs()
    for beta, el, eh, tmax in ((0.0, 0.2, None, None), (0.04, 0.2, 0.28, 8)):
        want, per = grpo_ref(lp, old, adv, mask, ref, beta, el, eh, loss_type, tmax)
        kw = dict(
            ref_logps=J(ref),
            beta=beta,
            epsilon_low=el,
            epsilon_high=eh,
            loss_type=loss_type,
            max_completion_length=tmax,
        )
        got = jaxloss.grpo_loss(J(lp), J(old), J(adv), jnp.asarray(mask), **kw)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        none = jaxloss.grpo_loss(J(lp), J(old), J(adv), jnp.asarray(mask), reduction="none", **kw)
        np.testing.assert_allclose(none, per, rtol=1e-12, atol=1e-14)
        total = jaxloss.grpo_loss(J(lp), J(old), J(adv), jnp.asarray(mask), reduction="sum", **kw)
        np.testing.assert_allclose(total, per.sum(), rtol=1e-12)


def test_grpo_against_torch_transcription():
    torch = pytest.importorskip("torch")
    lp, old, ref, adv, mask = _grpo_inputs(12)
    beta, el, eh = 0.04, 0.2, 0.28
    tlp = torch.tensor(lp, requires_grad=True)
    told, tref, tadv = torch.tensor(old), torch.tensor(ref), torch.tensor(adv)
    tm = torch.tensor(mask, dtype=torch.float64)
    # TRL GRPOTrainer._compute_loss, transcribed ("grpo" normalisation)
    kl = torch.exp(tref - tlp) - (tref - tlp) - 1
    ratio = torch.exp(tlp - told)
    l1 = ratio * tadv.unsqueeze(1)
    l2 = torch.clamp(ratio, 1 - el, 1 + eh) * tadv.unsqueeze(1)
    per = -torch.min(l1, l2) + beta * kl
    loss = ((per * tm).sum(-1) / tm.sum(-1).clamp(min=1.0)).mean()
    loss.backward()
    f = lambda x: jaxloss.grpo_loss(
        x,
        J(old),
        J(adv),
        jnp.asarray(mask),
        ref_logps=J(ref),
        beta=beta,
        epsilon_low=el,
        epsilon_high=eh,
    )
    v, g = jax.value_and_grad(f)(J(lp))
    np.testing.assert_allclose(v, loss.item(), rtol=1e-12)
    np.testing.assert_allclose(g, tlp.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_grpo_empty_masks_padding_and_grads():
    lp, old, ref, adv, mask = _grpo_inputs(13)
    lp_pad = np.where(mask, lp, -INF)  # padding may hold anything, -inf and NaN included
    old_pad = np.where(mask, old, np.nan)
    for lt in ("grpo", "bnpo", "dr_grpo"):
        f = lambda x: jaxloss.grpo_loss(
            x, J(old_pad), J(adv), jnp.asarray(mask), ref_logps=J(ref), beta=0.1, loss_type=lt
        )
        v, g = jax.value_and_grad(f)(J(lp_pad))
        np.testing.assert_allclose(
            v, grpo_ref(lp, old, adv, mask, ref, 0.1, loss_type=lt)[0], rtol=1e-12
        )
        assert np.all(np.isfinite(g)) and np.all(np.asarray(g)[~mask] == 0.0)
    empty = np.zeros_like(mask)
    for lt in ("grpo", "bnpo", "dr_grpo"):
        v, g = jax.value_and_grad(
            lambda x: jaxloss.grpo_loss(x, J(old), J(adv), jnp.asarray(empty), loss_type=lt)
        )(J(lp))
        assert float(v) == 0.0 and np.all(np.asarray(g) == 0.0)
    # where drops whole sequences: equal to removing them
    keep = np.array([True, False, True])
    for lt in ("grpo", "bnpo", "dr_grpo"):
        a = jaxloss.grpo_loss(
            J(lp), J(old), J(adv), jnp.asarray(mask), loss_type=lt, where=jnp.asarray(keep)[:, None]
        )
        b = jaxloss.grpo_loss(
            J(lp[keep]), J(old[keep]), J(adv[keep]), jnp.asarray(mask[keep]), loss_type=lt
        )
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # float masks equal boolean masks; token weights scale the mask
    np.testing.assert_allclose(
        jaxloss.grpo_loss(J(lp), J(old), J(adv), J(mask.astype(float))),
        jaxloss.grpo_loss(J(lp), J(old), J(adv), jnp.asarray(mask)),
        rtol=1e-14,
    )
    cg(
        lambda x, a, b: jaxloss.grpo_loss(
            x, J(old), a, jnp.asarray(mask), ref_logps=J(ref), beta=b, epsilon_high=0.3
        ),
        (J(lp), J(adv), J(0.05)),
        order=1,
        modes=("rev",),
    )


def test_grpo_vmap_jit_half_and_errors():
    lp, old, ref, adv, mask = _grpo_inputs(14)
    f = jax.jit(
        jax.vmap(
            lambda e: jaxloss.grpo_loss(
                J(lp), J(old), J(adv), jnp.asarray(mask), epsilon_low=e, loss_type="dapo"
            )
        )
    )
    eps = J([0.1, 0.2, 0.3])
    ref = [grpo_ref(lp, old, adv, mask, el=float(e), loss_type="dapo")[0] for e in eps]
    np.testing.assert_allclose(f(eps), ref, rtol=1e-12)
    v = jaxloss.grpo_loss(
        J(lp, jnp.bfloat16), J(old, jnp.bfloat16), J(adv, jnp.bfloat16), jnp.asarray(mask)
    )
    assert v.dtype == jnp.float32 and np.isfinite(v)
    with pytest.raises(ValueError, match="grpo_loss: 'loss_type' must be one of"):
        jaxloss.grpo_loss(J(lp), J(old), J(adv), jnp.asarray(mask), loss_type="ppo")
    with pytest.raises(ValueError, match="grpo_loss: 'beta' is 0.1 but no 'ref_logps'"):
        jaxloss.grpo_loss(J(lp), J(old), J(adv), jnp.asarray(mask), beta=0.1)
    with pytest.raises(ValueError, match="grpo_loss: 'advantages' must be"):
        jaxloss.grpo_loss(J(lp), J(old), J(adv[:2]), jnp.asarray(mask))
    with pytest.raises(ValueError, match="grpo_loss: 'where' must be a scalar or \\[B, T\\]"):
        jaxloss.grpo_loss(J(lp), J(old), J(adv), jnp.asarray(mask), where=jnp.ones(3, bool))
    with pytest.raises(ValueError, match="grpo_loss: 'max_completion_length'"):
        jaxloss.grpo_loss(J(lp), J(old), J(adv), jnp.asarray(mask), max_completion_length=0)


# ---------------------------------------------------------------------------------------------
# distillation (generalized JSD)


def test_distillation_matches_reference_for_every_beta_and_temperature():
    g = R(15)
    s, t = g.normal(size=(2, 3, 6)) * 2, g.normal(size=(2, 3, 6)) * 2
    s[0, 0, 1] = t[0, 0, 1] = -INF  # absent from both
    w = g.uniform(0, 2, size=(2, 3))
    # beta and temperature traced (one compile; the ends 0 and 1 are selected exactly)
    f = jax.jit(
        lambda be, tau: jaxloss.distillation_loss(
            J(s), J(t), beta=be, temperature=tau, weights=J(w), reduction="none"
        )
    )
    for beta in (0.0, 0.1, 0.5, 0.9, 1.0):
        for tau in (1.0, 2.0):
            ref = gjsd_ref(s, t, beta, tau)
            np.testing.assert_allclose(f(J(beta), J(tau)), w * ref, rtol=1e-11, atol=1e-14)
    got = jaxloss.distillation_loss(J(s), J(t), beta=0.9, temperature=2.0, weights=J(w))
    np.testing.assert_allclose(got, reduce_ref(gjsd_ref(s, t, 0.9, 2.0), w), rtol=1e-11)
    # vmap over beta
    vb = jax.vmap(lambda b: jaxloss.distillation_loss(J(s), J(t), beta=b))(J([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(vb, [gjsd_ref(s, t, b).mean() for b in (0.0, 0.5, 1.0)], rtol=1e-11)
    # the vocabulary on another axis
    got = jaxloss.distillation_loss(
        J(np.moveaxis(s, -1, 0)), J(np.moveaxis(t, -1, 0)), axis=0, reduction="none"
    )
    np.testing.assert_allclose(got, gjsd_ref(s, t, 0.5), rtol=1e-11)


def test_distillation_against_torch_transcription():
    torch = pytest.importorskip("torch")
    g = R(16)
    s, t = g.normal(size=(2, 4, 5)), g.normal(size=(2, 4, 5))
    labels = np.array([[1, -100, 2, 3], [-100, -100, 0, 4]])
    beta, tau = 0.3, 1.5
    # TRL GKDTrainer.generalized_jsd_loss (reduction="batchmean"), transcribed
    ls = torch.log_softmax(torch.tensor(s) / tau, -1)
    lt = torch.log_softmax(torch.tensor(t) / tau, -1)
    bt = torch.tensor(beta, dtype=torch.float64)
    lm = torch.logsumexp(torch.stack([ls + torch.log(1 - bt), lt + torch.log(bt)]), dim=0)
    kl_t = torch.nn.functional.kl_div(lm, lt, reduction="none", log_target=True)
    kl_s = torch.nn.functional.kl_div(lm, ls, reduction="none", log_target=True)
    jsd = beta * kl_t + (1 - beta) * kl_s
    m = torch.tensor(labels != -100)
    ref = jsd[m].sum() / m.sum()
    got = jaxloss.get("generalized_jsd_loss")(
        J(s), J(t), beta=beta, temperature=tau, labels=jnp.asarray(labels)
    )
    np.testing.assert_allclose(got, ref.item(), rtol=1e-12)


def test_distillation_masks_extremes_no_teacher_grad_and_half():
    s = np.array([[1e4, -1e4, 0.0, -INF], [-INF, 3.0, -INF, 1.0], [0.0, 0.0, 0.0, 0.0]])
    t = np.array([[-1e4, 1e4, 0.0, -INF], [-INF, 1.0, -INF, 2.0], [1.0, -INF, 0.0, 0.0]])
    f = lambda a, b, be: jaxloss.distillation_loss(a, b, beta=be, reduction="none")
    vg = jax.jit(
        lambda a, b, be, keep: (
            f(a, b, be),
            jax.grad(lambda x, y: jnp.sum(jnp.where(keep, f(x, y, be), 0.0)), argnums=(0, 1))(a, b),
        )
    )
    for beta in (0.0, 0.5, 1.0):
        ref = gjsd_ref(s, t, beta)
        finite = np.isfinite(ref)
        v, (gs, gt) = vg(J(s), J(t), J(beta), jnp.asarray(finite))
        np.testing.assert_allclose(np.asarray(v)[finite], ref[finite], rtol=1e-10)
        assert np.all(np.isfinite(gs)) and np.all(np.asarray(gt) == 0.0)
    # teacher masks class 1 of row 2 where the student has mass: the reverse KL is infinite,
    # the mixture finite
    assert np.isposinf(jaxloss.distillation_loss(J(s), J(t), beta=1.0, reduction="none")[2])
    xs, xt = R(17).normal(size=(3, 8)) * 3, R(18).normal(size=(3, 8)) * 3
    cg(
        lambda a, b: jaxloss.distillation_loss(a, J(xt), beta=b),
        (J(xs), J(0.4)),
        order=1,
    )
    half_vg = jax.jit(jax.value_and_grad(jaxloss.distillation_loss))
    for dt in (jnp.bfloat16, jnp.float16):
        v, g = half_vg(J(xs, dt), J(xt, dt))
        exact = gjsd_ref(np.asarray(J(xs, dt).astype(F)), np.asarray(J(xt, dt).astype(F)), 0.5)
        assert v.dtype == jnp.float32 and g.dtype == dt
        np.testing.assert_allclose(v, exact.mean(), rtol=1e-5)
    with pytest.raises(ValueError, match="distillation_loss: 'beta' must be in"):
        jaxloss.distillation_loss(J(xs), J(xt), beta=1.5)
    with pytest.raises(
        ValueError, match="distillation_loss: 'student_logits' and 'teacher_logits'"
    ):
        jaxloss.distillation_loss(J(xs), J(xt[:2]))


@pytest.mark.slow
def test_distillation_and_grpo_second_order_grads():
    xs, xt = R(19).normal(size=(2, 5)), R(20).normal(size=(2, 5))
    cg(lambda a: jaxloss.distillation_loss(a, J(xt), beta=0.3), (J(xs),), order=2)
    lp, old, ref, adv, mask = _grpo_inputs(21)
    cg(
        lambda x: jaxloss.grpo_loss(
            x, J(old), J(adv), jnp.asarray(mask), ref_logps=J(ref), beta=0.1
        ),
        (J(lp),),
        order=2,
    )


def test_registry_names():
    assert jaxloss.get("DPO") is jaxloss.dpo_loss
    assert jaxloss.get("grpo") is jaxloss.grpo_loss
    assert jaxloss.get("generalized_jsd_loss").canonical is jaxloss.distillation_loss
    names = set(jaxloss.list_losses())
    assert {
        "dpo_loss",
        "simpo_loss",
        "orpo_loss",
        "kto_loss",
        "grpo_loss",
        "distillation_loss",
    } <= names
    assert "token_log_probs" not in names  # not a loss: exported, not registered


def test_checked_grpo_ignores_padding_and_reports_nan_in_completions():
    lp, old, ref, adv, mask = _grpo_inputs(22)
    lp_pad = np.where(mask, lp, np.nan)  # padding may hold NaN: not an error
    ch = jaxloss.checked(jaxloss.grpo_loss)
    v = ch(J(lp_pad), J(old), J(adv), jnp.asarray(mask), ref_logps=J(ref), beta=0.1)
    np.testing.assert_allclose(v, grpo_ref(lp, old, adv, mask, ref, 0.1)[0], rtol=1e-12)
    with pytest.raises(jaxloss.LossInputError, match="grpo_loss: 'logps' must not be NaN"):
        ch(J(np.where(mask, np.nan, lp)), J(old), J(adv), jnp.asarray(mask))
