"""Centred-difference gradient checks (``docs/training.rst``, "Checking gradients").

The numerical gradient and the error measure::

    numerical df/dx_i = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)      error O(eps^2)
    relative error    = max_i |a_i - n_i| / max(1e-8, max_i |a_i| + max_i |n_i|)

The error is normwise (max-norms over the whole array): centred differences carry an
absolute rounding error ~1e-16 abs(f) / eps, so an elementwise ratio would flag any
entry that happens to be near zero. Use float64: in float32 the rounding of f alone
is ~1e-7 relative, larger than the differences being measured.
"""
import numpy as np

from . import attention, birnn, elman, gcn, gru, lstm


def rel_error(a, b):
    """Normwise relative error between two arrays (0 for equal arrays)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.size == 0:
        return 0.0
    return float(np.abs(a - b).max() / max(1e-8, np.abs(a).max() + np.abs(b).max()))


def numerical_gradient(f, x, eps=1e-6):
    """df/dx for a scalar function f() of the array x, perturbing x in place."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        f_plus = f()
        x[i] = old - eps
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def check(loss_and_grads, arrays, eps=1e-6):
    """Compare analytic and numerical gradients for every array in ``arrays``.

    ``loss_and_grads()`` returns (loss, grads) with ``grads[name]`` the analytic
    gradient of the scalar loss w.r.t. ``arrays[name]``; it must read the arrays
    afresh on each call (they are perturbed in place). Returns {name: rel_error}.
    """
    _, analytic = loss_and_grads()
    analytic = {k: np.array(v, copy=True) for k, v in analytic.items()}
    return {name: rel_error(analytic[name],
                            numerical_gradient(lambda: loss_and_grads()[0], x, eps))
            for name, x in arrays.items()}


def report(errors, tol):
    """Lines 'name  rel_error  PASS/FAIL' and whether all passed."""
    width = max(len(k) for k in errors)
    lines = ["%-*s  %.2e  %s" % (width, k, e, "PASS" if e <= tol else "FAIL")
             for k, e in errors.items()]
    return lines, all(e <= tol for e in errors.values())


def perturbed(params, rng, scale=0.3):
    """params moved in place away from their initial values (zero biases, for one)."""
    for p in params.values():
        p += scale * rng.standard_normal(p.shape)
    return params


def step_problem(task, rng, batch, state=None, scale=0.3):
    """A task's training step as a problem: its loss and gradients w.r.t. every
    parameter. Dropout masks are re-seeded on every call: every difference sees the same."""
    params = perturbed(task.init_params(rng), rng, scale)
    return lambda: task.step(params, batch, state, np.random.default_rng(0))[:2], params


def cell_problem(cell, rng, states=("h0",), init_options=None, **options):
    """A small float64 problem for a recurrent cell over a whole padded sequence batch:
    L = sum_t <h_t, R_t> with random R, lengths (T, 3, 0), random initial ``states``.
    ``init_options`` go to cell.init, ``options`` to cell.forward."""
    T, B, D, H = 6, 3, 4, 5
    params = perturbed(cell.init(rng, D, H, np.float64, **(init_options or {})), rng)
    arrays = {**params, "x": rng.standard_normal((T, B, D)),
              **{name: rng.standard_normal((B, H)) for name in states}}
    R = rng.standard_normal((T, B, H))
    lengths = np.array([T, 3, 0])

    def loss_and_grads():
        h, cache = cell.forward(params, arrays["x"], *(arrays[n] for n in states),
                                lengths=lengths, **options)
        dx, *dstates, grads = cell.backward(R, cache)
        return float((h * R).sum()), {**grads, "x": dx, **dict(zip(states, dstates))}
    return loss_and_grads, arrays


def birnn_problem(rng):
    """A two-layer bidirectional Elman problem over a padded batch, dropout 0.5 between
    the layers; the dropout rng is re-seeded on every call, so all differences see the
    same mask."""
    T, B, D, H = 5, 3, 3, 4
    params = perturbed(birnn.init(rng, elman, D, H, num_layers=2, dtype=np.float64), rng)
    arrays = {**params, "x": rng.standard_normal((T, B, D))}
    R = rng.standard_normal((T, B, 2 * H))
    lengths = np.array([T, 3, 0])

    def loss_and_grads():
        out, cache = birnn.forward(params, elman, arrays["x"], lengths, num_layers=2,
                                   dropout=0.5, rng=np.random.default_rng(0))
        dx, grads = birnn.backward(R, cache)
        return float((out * R).sum()), {**grads, "x": dx}
    return loss_and_grads, arrays


def random_graph(rng, N, E):
    """E random node pairs over N nodes (repeats and self-pairs included, as real edge
    lists have them)."""
    return rng.integers(0, N, (E, 2))


def gcn_problem(rng):
    """Kipf's two-layer GCN on a random 7-node graph: loss eq. (8) over 4 labelled
    nodes with weight decay 0.1, dropout 0.5 (mask re-seeded on every call)."""
    N, F, H, C = 7, 5, 4, 3
    A_hat = gcn.normalized_adjacency(random_graph(rng, N, 10), N)
    params = gcn.init(rng, [F, H, C], np.float64)
    arrays = {**params, "X": rng.standard_normal((N, F))}
    labels, nodes = rng.integers(0, C, N), np.array([0, 2, 3, 6])

    def loss_and_grads():
        Z, cache = gcn.forward(params, A_hat, arrays["X"], 0.5, np.random.default_rng(0))
        L, dZ = gcn.loss(params, Z, labels, nodes, weight_decay=0.1)
        dX, grads = gcn.backward(dZ, cache, weight_decay=0.1)
        return L, {**grads, "X": dX}
    return loss_and_grads, arrays


def gnn_problem(rng):
    """Two stacked plain GNN updates (eq. 1, relu then linear) on a random 7-node
    graph, L = sum(H'' * R)."""
    N, D, H, K = 7, 4, 5, 3
    A = gcn.adjacency(random_graph(rng, N, 10), N)
    first, second = gcn.gnn_init(rng, D, H, np.float64), gcn.gnn_init(rng, H, K, np.float64)
    arrays = {**{k + "/1": v for k, v in first.items()},
              **{k + "/2": v for k, v in second.items()}, "H": rng.standard_normal((N, D))}
    R = rng.standard_normal((N, K))

    def loss_and_grads():
        H1, cache1 = gcn.gnn_forward(first, A, arrays["H"])
        H2, cache2 = gcn.gnn_forward(second, A, H1, activation=False)
        dH1, grads2 = gcn.gnn_backward(R, cache2)
        dH, grads1 = gcn.gnn_backward(dH1, cache1)
        return float((H2 * R).sum()), {**{k + "/1": v for k, v in grads1.items()},
                                       **{k + "/2": v for k, v in grads2.items()}, "H": dH}
    return loss_and_grads, arrays


def attention_problem(rng, kind):
    """Attention over a padded batch (key lengths Tk, 2, 0: the last row has no key):
    kind "dot" (scaled dot-product, q, k, v), "additive" or "multihead" (self-attention,
    2 heads, causal). L = sum <o, R> with random R."""
    Tq, Tk, B, d = 4, 5, 3, 4
    lengths = np.array([Tk, 2, 0])
    arrays = {"q": rng.standard_normal((Tq, B, d)), "k": rng.standard_normal((Tk, B, d)),
              "v": rng.standard_normal((Tk, B, 3))}
    if kind == "additive":
        params = attention.additive_init(rng, d, d, 6, np.float64)
    elif kind == "multihead":
        params = attention.multihead_init(rng, d, np.float64)
        arrays = {"x": rng.standard_normal((Tk, B, d))}
    else:
        params = {}
    arrays.update(perturbed(params, rng))
    # q_i . b_k is the same for every key of row i, so softmax cancels it: dL/db_k = 0
    # exactly, and a relative error against finite-difference noise means nothing.
    arrays.pop("b_k", None)
    R = rng.standard_normal({"dot": (Tq, B, 3), "additive": (Tq, B, 3), "multihead": (Tk, B, d)}[kind])

    def loss_and_grads():
        if kind == "multihead":
            out, _, cache = attention.multihead_forward(params, arrays["x"], 2, lengths, causal=True)
            dx, grads = attention.multihead_backward(R, cache)
            return float((out * R).sum()), {**grads, "x": dx}
        qkv = (arrays["q"], arrays["k"], arrays["v"])
        if kind == "additive":
            out, _, cache = attention.additive_forward(params, *qkv, lengths)
            *dqkv, grads = attention.additive_backward(R, cache)
        else:
            out, _, cache = attention.dot_product_forward(*qkv, lengths)
            dqkv, grads = attention.dot_product_backward(R, cache), {}
        return float((out * R).sum()), {**grads, **dict(zip("qkv", dqkv))}
    return loss_and_grads, arrays


def seq2seq_problem(rng, attention=True, steps=11):
    """The date translator's training step, its cross-entropy over the first ``steps``
    outputs of 3 inputs (float64, tiny sizes): the decoder with or without attention,
    back through the encoder into the input embedding E_x."""
    from .tasks import seq2seq                 # tasks import the concepts checked here
    task = seq2seq.build(seq2seq.Settings(attention=attention, hidden=3, embed=2,
                                          dtype="float64", train_size=3, val_size=0,
                                          test_size=0))
    inputs, lengths, targets = seq2seq.time_major_batch(task.train, np.arange(3))
    # far from init: peaked attention, large gradients
    return step_problem(task, rng, (inputs, lengths, targets[:steps]), scale=1.0)


def sentiment_problem(rng):
    """The review classifier's training step on 3 reviews of lengths 5, 2, 3 over a
    6-word vocabulary (float64, tiny sizes): bidirectional LSTM, mean and max pooling,
    word dropout 0.3 and dropout 0.5 on the pooled features."""
    from .tasks import sentiment
    task = sentiment.Sentiment(sentiment.Settings(hidden=2, embed=3, word_dropout=0.3, dropout=0.5,
                                                  dtype="float64"),
                               ["<pad>", "<unk>", "good", "bad", "plot", "film"])
    lengths = np.array([5, 2, 3])
    tokens = rng.integers(1, 6, (5, 3))
    tokens[np.arange(5)[:, None] >= lengths] = 0                   # padding after each review
    return step_problem(task, rng, (tokens, lengths, np.array([1, 0, 1])))


def charlm_problem(rng):
    """The char LM's training step (truncated BPTT) on 2 streams of 6 characters over a
    5-character vocabulary (float64, tiny sizes), from a random carried-in state."""
    from .tasks import charlm
    task = charlm.CharLM(charlm.Settings(hidden=4, embed=3, dtype="float64"), "abcde")
    ids = rng.integers(0, 5, (7, 2))
    state = {"h": rng.standard_normal((2, 4))}
    return step_problem(task, rng, (ids[:-1], ids[1:]), state)


PROBLEMS = {
    "elman": lambda rng: cell_problem(elman, rng),
    "lstm": lambda rng: cell_problem(lstm, rng, states=("h0", "c0")),
    "lstm-peephole": lambda rng: cell_problem(lstm, rng, ("h0", "c0"), {"peephole": True}),
    "gru": lambda rng: cell_problem(gru, rng),
    "gru-before": lambda rng: cell_problem(gru, rng, ("h0",), {"variant": "before"}, variant="before"),
    "birnn": birnn_problem,
    "gcn": gcn_problem,
    "gnn": gnn_problem,
    "attention": lambda rng: attention_problem(rng, "multihead"),
    "attention-dot": lambda rng: attention_problem(rng, "dot"),
    "attention-additive": lambda rng: attention_problem(rng, "additive"),
    "seq2seq": seq2seq_problem,
    "seq2seq-no-attention": lambda rng: seq2seq_problem(rng, attention=False),
    "sentiment": sentiment_problem,
    "charlm": charlm_problem,
}
