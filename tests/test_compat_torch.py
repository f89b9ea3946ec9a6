"""``jaxloss.compat.torch`` against PyTorch (CPU, float64): values and gradients.

Every case builds random float64 inputs, runs the PyTorch function (or class) and the compat
function on the same numbers, and compares the value and the vector-Jacobian product with the
same random cotangent for every differentiable input. The option grid is the one a PyTorch user
writes: every ``reduction``, with and without ``weight``, ``ignore_index``, ``label_smoothing``,
class dimension 1 on ``[N, C]`` and ``[N, C, T]`` inputs, unbatched ``[C]`` inputs, and so on.
The default tier runs one seed per combination; ``-m slow`` runs more seeds and shapes.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from jaxloss.compat import torch as JF  # noqa: E402

from .helpers import cover_once  # noqa: E402

RTOL, ATOL = 1e-9, 1e-12
RED = ("none", "mean", "sum")


# ----------------------------------------------------------------------------------------------
# the harness
# ----------------------------------------------------------------------------------------------


def _to_torch(v, grad=False):
    if isinstance(v, np.ndarray):
        t = torch.tensor(v)
        return t.requires_grad_(True) if grad else t
    return v


def _to_jax(v):
    return jnp.asarray(v) if isinstance(v, np.ndarray) else v


def compare(torch_fn, jax_fn, args, diff, options=None, jax_options=None, seed=0):
    """Value and VJP of ``torch_fn(*args, **options)`` vs ``jax_fn``; ``diff``: argnums."""
    options = options or {}
    jax_options = options if jax_options is None else jax_options
    targs = [_to_torch(a, i in diff) for i, a in enumerate(args)]
    t_out = torch_fn(*targs, **{k: _to_torch(v) for k, v in options.items()})
    cot = np.random.default_rng(seed + 7).standard_normal(tuple(t_out.shape))
    t_grads = torch.autograd.grad(
        t_out, [targs[i] for i in diff], grad_outputs=torch.tensor(cot), allow_unused=True
    )
    t_val = t_out.detach().numpy()
    t_grads = [
        np.zeros_like(args[i]) if g is None else g.numpy()
        for i, g in zip(diff, t_grads, strict=True)
    ]
    if not (np.all(np.isfinite(t_val)) and all(np.all(np.isfinite(g)) for g in t_grads)):
        pytest.skip("PyTorch's value or gradient is not finite here (deviations: README)")

    jargs = [_to_jax(a) for a in args]
    jopts = {k: _to_jax(v) for k, v in jax_options.items()}

    def f(*xs):
        full = list(jargs)
        for i, x in zip(diff, xs, strict=True):
            full[i] = x
        return jax_fn(*full, **jopts)

    j_val, vjp = jax.vjp(f, *[jargs[i] for i in diff])
    j_grads = vjp(jnp.asarray(cot, j_val.dtype))
    assert j_val.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(j_val), t_val, rtol=RTOL, atol=ATOL, err_msg="value")
    for i, tg, jg in zip(diff, t_grads, j_grads, strict=True):
        np.testing.assert_allclose(
            np.asarray(jg), tg, rtol=RTOL, atol=ATOL, err_msg=f"grad of argument {i}"
        )


# ----------------------------------------------------------------------------------------------
# random inputs
# ----------------------------------------------------------------------------------------------


def _rng(seed, *key):
    return np.random.default_rng([seed, *(abs(hash(k)) % (2**31) for k in key)])


def _normal(r, shape):
    return r.standard_normal(shape)


def _prob(r, shape):
    return r.uniform(0.02, 0.98, shape)


def _pm1(r, shape):
    return np.where(r.uniform(size=shape) < 0.5, -1.0, 1.0)


def _labels(r, shape, c, ignore=None, frac=0.25):
    y = r.integers(0, c, shape)
    if ignore is not None:
        y = np.where(r.uniform(size=shape) < frac, ignore, y)
        y.reshape(-1)[0] = r.integers(0, c)  # at least one example counts
    return y


def _simplex(r, shape, axis):
    p = r.uniform(0.05, 1.0, shape)
    return p / p.sum(axis=axis, keepdims=True)


# ----------------------------------------------------------------------------------------------
# the cases: (id, torch function, jax function, args builder(seed), differentiable argnums,
# options)
# ----------------------------------------------------------------------------------------------

ELEMENTWISE_SHAPES = ((5,), (4, 3), (2, 3, 2))
CLASS_SHAPES = ((4,), (5, 4), (3, 4, 2))  # [C], [N, C], [N, C, T]: class dimension 1


def _cases(shapes_el=ELEMENTWISE_SHAPES, shapes_cl=CLASS_SHAPES):
    cases = []

    def add(name, args, diff, **options):
        opt_id = ",".join(
            f"{k}={'arr' if isinstance(v, np.ndarray) else v}" for k, v in options.items()
        )
        shape = "x".join(map(str, np.shape(args(0)[0])))
        cases.append(pytest.param(name, args, diff, options, id=f"{name}[{shape}]({opt_id})"))

    for shape in shapes_el:
        for red in RED:
            for w in (None, "w"):

                def ar(s, shape=shape, w=w):
                    r = _rng(s, "reg", shape)
                    return _normal(r, shape), _normal(r, shape), r.uniform(0.1, 2.0, shape)

                for name in ("l1_loss", "mse_loss"):
                    if w is None:
                        add(name, lambda s, ar=ar: ar(s)[:2], (0, 1), reduction=red)
                    else:
                        add(
                            name, lambda s, ar=ar: ar(s)[:2], (0, 1), reduction=red, weight=ar(0)[2]
                        )
                for delta in (0.5, 1.0, 2.0):
                    opts = {"reduction": red, "delta": delta}
                    if w is not None:
                        opts["weight"] = ar(0)[2]
                    add("huber_loss", lambda s, ar=ar: ar(s)[:2], (0, 1), **opts)
            for beta in (0.0, 0.5, 1.0):
                add(
                    "smooth_l1_loss",
                    lambda s, shape=shape: (lambda r: (_normal(r, shape), _normal(r, shape)))(
                        _rng(s, "sl1", shape)
                    ),
                    (0, 1),
                    reduction=red,
                    beta=beta,
                )
            for log_input, full in itertools.product((True, False), (False, True)):

                def pois(s, shape=shape, log_input=log_input):
                    r = _rng(s, "pois", shape)
                    x = _normal(r, shape) if log_input else r.uniform(0.1, 3.0, shape)
                    return x, r.uniform(0.0, 4.0, shape)

                add("poisson_nll_loss", pois, (0, 1), reduction=red, log_input=log_input, full=full)
            for bw in (None, "full", "row"):

                def bce(s, shape=shape):
                    r = _rng(s, "bce", shape)
                    return _prob(r, shape), r.uniform(0, 1, shape)

                opts = {"reduction": red}
                if bw == "full":
                    opts["weight"] = _rng(0, "w", shape).uniform(0.1, 2, shape)
                elif bw == "row":
                    opts["weight"] = _rng(0, "w", shape).uniform(0.1, 2, shape[-1:])
                add("binary_cross_entropy", bce, (0,), **opts)
                for pw in (None, "pw"):
                    o = dict(opts)
                    if pw:
                        o["pos_weight"] = _rng(0, "pw", shape).uniform(0.2, 3, shape[-1:])
                    add(
                        "binary_cross_entropy_with_logits",
                        lambda s, shape=shape: (
                            lambda r: (_normal(r, shape) * 3, r.uniform(0, 1, shape))
                        )(_rng(s, "bcel", shape)),
                        (0, 1),
                        **o,
                    )
            add(
                "soft_margin_loss",
                lambda s, shape=shape: (lambda r: (_normal(r, shape) * 2, _pm1(r, shape)))(
                    _rng(s, "sm", shape)
                ),
                (0,),
                reduction=red,
            )
            for margin in (1.0, 0.4):
                add(
                    "hinge_embedding_loss",
                    lambda s, shape=shape: (lambda r: (np.abs(_normal(r, shape)), _pm1(r, shape)))(
                        _rng(s, "he", shape)
                    ),
                    (0,),
                    reduction=red,
                    margin=margin,
                )
                add(
                    "margin_ranking_loss",
                    lambda s, shape=shape: (
                        lambda r: (_normal(r, shape), _normal(r, shape), _pm1(r, shape))
                    )(_rng(s, "mr", shape)),
                    (0, 1),
                    reduction=red,
                    margin=margin - 0.4,
                )
            for red_kl in (*RED, "batchmean"):
                if red_kl == red or (red == "sum" and red_kl == "batchmean"):
                    for log_target in (False, True):

                        def kl(s, shape=shape, log_target=log_target):
                            r = _rng(s, "kl", shape)
                            x = np.log(_simplex(r, shape, -1))
                            t = _simplex(r, shape, -1)
                            return x, (np.log(t) if log_target else t)

                        add("kl_div", kl, (0, 1), reduction=red_kl, log_target=log_target)

    # gaussian NLL: var of the same shape, one per row ([N]) or [N, 1]
    for red in RED:
        for full in (False, True):
            for vshape in ((4, 3), (4,), (4, 1)):

                def gauss(s, vshape=vshape):
                    r = _rng(s, "gauss", vshape)
                    return _normal(r, (4, 3)), _normal(r, (4, 3)), r.uniform(0.05, 2.0, vshape)

                add("gaussian_nll_loss", gauss, (0, 1, 2), reduction=red, full=full)

    # class dimension 1
    for shape in shapes_cl:
        c = shape[0] if len(shape) == 1 else shape[1]
        lshape = () if len(shape) == 1 else shape[:1] + shape[2:]
        cw = _rng(0, "cw", c).uniform(0.2, 2.0, (c,))
        for red in RED:
            for weighted in (False, True):
                for ignore in (None, -100, 1):
                    if len(shape) == 1 and ignore is not None:
                        continue  # one example: ignoring it is the 0/0 edge (PyTorch: nan)

                    def lab(s, shape=shape, c=c, lshape=lshape, ignore=ignore):
                        r = _rng(s, "ce", shape, ignore)
                        y = _labels(r, lshape, c, ignore) if lshape else np.asarray(r.integers(c))
                        return _normal(r, shape) * 2, y

                    opts = {"reduction": red}
                    if weighted:
                        opts["weight"] = cw
                    if ignore is not None:
                        opts["ignore_index"] = ignore

                    def nll(s, lab=lab, shape=shape):
                        x, y = lab(s)
                        ax = 0 if len(shape) == 1 else 1
                        return x - np.log(np.exp(x).sum(axis=ax, keepdims=True)), y

                    add("nll_loss", nll, (0,), **opts)
                    for eps in (0.0, 0.1):
                        add("cross_entropy", lab, (0,), label_smoothing=eps, **opts)
                for eps in (0.0, 0.2):

                    def soft(s, shape=shape):
                        r = _rng(s, "soft", shape)
                        return _normal(r, shape) * 2, _simplex(
                            r, shape, 0 if len(shape) == 1 else 1
                        )

                    opts = {"reduction": red, "label_smoothing": eps}
                    if weighted:
                        opts["weight"] = cw
                    add("cross_entropy", soft, (0, 1), **opts)
                if len(shape) <= 2:
                    for p, margin in ((1, 1.0), (2, 1.0), (1, 0.5)):

                        def mm(s, shape=shape, c=c, lshape=lshape):
                            r = _rng(s, "mm", shape)
                            y = _labels(r, lshape, c) if lshape else np.asarray(r.integers(c))
                            return _normal(r, shape), y

                        opts = {"reduction": red, "p": p, "margin": margin}
                        if weighted:
                            opts["weight"] = cw
                        add("multi_margin_loss", mm, (0,), **opts)

                    def mlm(s, shape=shape, c=c):
                        r = _rng(s, "mlm", shape)
                        rows = np.full(shape, -1)
                        for row in rows.reshape(-1, c):
                            k = r.integers(0, c + 1)
                            row[:k] = r.permutation(c)[:k]
                            row[k + 1 :] = (
                                r.integers(-1, c, c - k - 1) if k + 1 < c else row[k + 1 :]
                            )
                        return _normal(r, shape), rows

                    if not weighted:
                        add("multilabel_margin_loss", mlm, (0,), reduction=red)
                    if len(shape) == 2:

                        def msm(s, shape=shape):
                            r = _rng(s, "msm", shape)
                            return _normal(r, shape) * 2, (r.uniform(size=shape) < 0.5) * 1.0

                        opts = {"reduction": red}
                        if weighted:
                            opts["weight"] = cw
                        add("multilabel_soft_margin_loss", msm, (0,), **opts)

    # pairs and triplets on [N, D] (and unbatched [D] for the cosine loss)
    for red in RED:
        for margin in (0.0, 0.3):
            for shape in ((5, 3), (3,)):

                def cos(s, shape=shape):
                    r = _rng(s, "cos", shape)
                    t = _pm1(r, shape[:-1]) if len(shape) > 1 else np.asarray(1.0)
                    return _normal(r, shape), _normal(r, shape), t

                add("cosine_embedding_loss", cos, (0, 1), reduction=red, margin=margin)

        def trip(s):
            r = _rng(s, "trip")
            return tuple(_normal(r, (5, 3)) for _ in range(3))

        for p, swap, margin, eps in itertools.product(
            (1, 2, 3), (False, True), (1.0, 0.5), (1e-6, 0.0)
        ):
            if margin == 0.5 and eps == 0.0 and p != 2:
                continue
            add(
                "triplet_margin_loss",
                trip,
                (0, 1, 2),
                reduction=red,
                p=p,
                swap=swap,
                margin=margin,
                eps=eps,
            )
        for dist, swap, margin in itertools.product((None, "l1", "cos"), (False, True), (1.0, 0.3)):
            add(
                "triplet_margin_with_distance_loss",
                trip,
                (0, 1, 2),
                reduction=red,
                distance_function=dist,
                swap=swap,
                margin=margin,
            )

    # CTC: log_probs [T, N, C] (from log_softmax of logits), padded or concatenated targets
    for red in RED:
        for blank, zero_inf, layout in itertools.product(
            (0, 3), (False, True), ("padded", "concat", "unbatched")
        ):

            def ctc(s, layout=layout, blank=blank):
                r = _rng(s, "ctc", layout, blank)
                t_len, n, c, width = 8, 3, 4, 3
                tl = np.array([3, 1, 2])
                il = np.array([8, 6, 7])
                labels = r.integers(0, c - 1, (n, width))
                labels = np.where(labels >= blank, labels + 1, labels)  # never the blank
                if layout == "unbatched":
                    return (_normal(r, (t_len, c)), labels[0, :3], np.asarray(8), np.asarray(3))
                if layout == "concat":
                    labels = np.concatenate([labels[i, : tl[i]] for i in range(n)])
                return _normal(r, (t_len, n, c)), labels, il, tl

            add("ctc_loss", ctc, (0,), reduction=red, blank=blank, zero_infinity=zero_inf)
    return cases


def _l1_t(x, y):
    return (x - y).abs().sum(-1)


def _cos_t(x, y):
    return 1 - F.cosine_similarity(x, y, dim=-1)


def _l1_j(x, y):
    return jnp.sum(jnp.abs(x - y), axis=-1)


def _cos_j(x, y):
    num = jnp.sum(x * y, axis=-1)
    # PyTorch: x·y / max(‖x‖·‖y‖, 1e-8)
    den = jnp.maximum(jnp.linalg.norm(x, axis=-1) * jnp.linalg.norm(y, axis=-1), 1e-8)
    return 1 - num / den


_DIST = {None: (None, None), "l1": (_l1_t, _l1_j), "cos": (_cos_t, _cos_j)}


def _fns(name, options):
    t_fn, j_fn = getattr(F, name), getattr(JF, name)
    t_opts, j_opts = dict(options), dict(options)
    if name == "ctc_loss":
        base_t, base_j = t_fn, j_fn

        def t_fn(x, *rest, **kw):
            return base_t(x.log_softmax(-1), *rest, **kw)

        def j_fn(x, *rest, **kw):
            return base_j(jax.nn.log_softmax(x, -1), *rest, **kw)

    if "distance_function" in options:
        t_opts["distance_function"], j_opts["distance_function"] = _DIST[
            options["distance_function"]
        ]
    return t_fn, j_fn, t_opts, j_opts


def _class_of(name):
    return {
        "l1_loss": "L1Loss",
        "mse_loss": "MSELoss",
        "huber_loss": "HuberLoss",
        "smooth_l1_loss": "SmoothL1Loss",
        "poisson_nll_loss": "PoissonNLLLoss",
        "gaussian_nll_loss": "GaussianNLLLoss",
        "binary_cross_entropy": "BCELoss",
        "binary_cross_entropy_with_logits": "BCEWithLogitsLoss",
        "soft_margin_loss": "SoftMarginLoss",
        "multilabel_soft_margin_loss": "MultiLabelSoftMarginLoss",
        "multilabel_margin_loss": "MultiLabelMarginLoss",
        "multi_margin_loss": "MultiMarginLoss",
        "nll_loss": "NLLLoss",
        "cross_entropy": "CrossEntropyLoss",
        "kl_div": "KLDivLoss",
        "hinge_embedding_loss": "HingeEmbeddingLoss",
        "margin_ranking_loss": "MarginRankingLoss",
        "cosine_embedding_loss": "CosineEmbeddingLoss",
        "triplet_margin_loss": "TripletMarginLoss",
        "triplet_margin_with_distance_loss": "TripletMarginWithDistanceLoss",
        "ctc_loss": "CTCLoss",
    }[name]


CASES = _cases()


def _features(case):
    """What a case exercises: its function, each option it sets, and its reduction."""
    name, _, _, options = case.values
    out = {name} | {(name, k) for k in options}
    if "reduction" in options:
        out.add((name, "reduction", options["reduction"]))
    return out


# Default tier: the cases that first exercise a function, one of its options or a reduction
# (76 of 675); the rest run in the slow tier (test_functional_matches_torch_rest).
DEFAULT, REST = cover_once(CASES, _features)


@pytest.mark.parametrize(("name", "args", "diff", "options"), DEFAULT)
def test_functional_matches_torch(name, args, diff, options):
    t_fn, j_fn, t_opts, j_opts = _fns(name, options)
    compare(t_fn, j_fn, args(0), diff, t_opts, j_opts)


def _class_cases():
    """Every class once per reduction on its first option combination, plus the options."""
    seen, out = {}, []
    for case in CASES:
        name, args, diff, options = case.values
        if "weight" in options and name in ("l1_loss", "mse_loss", "huber_loss"):
            continue  # the classes have no ``weight`` (only the functions do, in 2.13)
        key = (
            name,
            tuple(
                sorted(
                    (k, str(v) if not isinstance(v, np.ndarray) else "arr")
                    for k, v in options.items()
                    if k != "reduction"
                )
            ),
        )
        if key in seen:
            continue
        seen[key] = True
        out.append(pytest.param(name, args, diff, options, id=case.id))
    return out[::3]


@pytest.mark.parametrize(("name", "args", "diff", "options"), _class_cases())
def test_class_matches_torch(name, args, diff, options):
    t_fn, j_fn, t_opts, j_opts = _fns(name, options)
    cls = _class_of(name)
    t_cls, j_cls = getattr(torch.nn, cls), getattr(JF, cls)
    if name == "ctc_loss":
        t_loss, j_loss = t_cls(**t_opts), j_cls(**j_opts)
        t_fn = lambda x, *r: t_loss(x.log_softmax(-1), *r)
        j_fn = lambda x, *r: j_loss(jax.nn.log_softmax(x, -1), *r)
    else:
        t_fn = t_cls(**{k: _to_torch(v) for k, v in t_opts.items()})
        j_fn = j_cls(**{k: _to_jax(v) for k, v in j_opts.items()})
    compare(t_fn, j_fn, args(0), diff, {}, {})


@pytest.mark.slow
@pytest.mark.parametrize(("name", "args", "diff", "options"), REST)
def test_functional_matches_torch_rest(name, args, diff, options):
    t_fn, j_fn, t_opts, j_opts = _fns(name, options)
    compare(t_fn, j_fn, args(0), diff, t_opts, j_opts)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "args", "diff", "options"), CASES)
@pytest.mark.parametrize("seed", (1, 2))
def test_functional_matches_torch_more_seeds(name, args, diff, options, seed):
    t_fn, j_fn, t_opts, j_opts = _fns(name, options)
    compare(t_fn, j_fn, args(seed), diff, t_opts, j_opts, seed=seed)


def test_every_functional_and_class_is_covered():
    names = {c.values[0] for c in CASES}
    torch_names = {
        n
        for n in dir(F)
        if (n.endswith("_loss") or n in ("cross_entropy", "kl_div"))
        or n.startswith("binary_cross_entropy")
    }
    torch_names = {n for n in torch_names if not n.startswith("_")}
    assert names == torch_names
    assert set(JF.__all__) >= torch_names | {_class_of(n) for n in names}


def test_legacy_size_average_reduce():
    r = _rng(0, "legacy")
    x, y = _normal(r, (4, 3)), _normal(r, (4, 3))
    for sa, rd in itertools.product((None, True, False), (None, True, False)):
        compare(F.mse_loss, JF.mse_loss, (x, y), (0,), {"size_average": sa, "reduce": rd})


def test_bad_reduction_names_the_function():
    with pytest.raises(ValueError, match="kl_div.*batchmean"):
        JF.kl_div(jnp.zeros(3), jnp.zeros(3), reduction="batchmeans")
    with pytest.raises(ValueError, match="cross_entropy"):
        JF.cross_entropy(jnp.zeros((2, 3)), jnp.zeros(2, int), reduction="batchmean")


def test_jit_and_grad_under_class():
    loss = JF.CrossEntropyLoss(ignore_index=0, label_smoothing=0.1)
    x = jnp.asarray(_normal(_rng(0, "jit"), (3, 4, 2)))
    y = jnp.array([[1, 0], [2, 3], [0, 1]])
    g = jax.jit(jax.grad(lambda x: loss(x, y)))(x)
    assert g.shape == x.shape and bool(jnp.all(jnp.isfinite(g)))
