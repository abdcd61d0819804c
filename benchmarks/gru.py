"""Benchmark the GRU train step: minirnn vs PyTorch (CPU).

What is measured (see benchmarks/README.md for how to read it):

* **Train step** = ``minirnn.gru.forward`` + ``minirnn.gru.backward`` (variant "after",
  PyTorch's reset-after GRU) with a fixed random upstream gradient dL/dh, at T=200,
  B=64, D=64, H=128 (full-length sequences, random h0), in float32 and float64,
  against ``torch.nn.GRU`` (forward + ``backward(dh)``) holding the same weights:
  weight_ih_l0 = W_x.T, weight_hh_l0 = W_h.T, bias_ih_l0 = b_x, bias_hh_l0 = b_h.
* **Correctness first**: h, dx, dh0, dW_x, dW_h, db_x, db_h of minirnn are compared
  with PyTorch's before anything is timed; a mismatch aborts the run. Without PyTorch,
  h is checked against the NumPy loop of tests/reference/gru.py.
* Timing in blocks and passes, GFLOP/s, NumPy's GEMM rates for the step's two product
  shapes, and the compile-time probe, as in elman.py (benchmarks/timing.py).
* **Goals**, minirnn time / torch time: train step float32 <= 1.0, float64 <= 0.5.

Run from the repository root: ``python benchmarks/gru.py [--quick] [--repeats N]
[--json PATH]``, or ``minirnn bench gru [ARGS]``.
"""
import numpy as np

import timing                   # benchmarks/timing.py: also puts the repository root on sys.path
from minirnn import gru
from tests.reference.gru import gru_forward
from timing import torch        # None without PyTorch

SHAPE = dict(T=200, B=64, D=64, H=128)
GATES = 3                       # [r | z | n]: W_x (D, 3H), W_h (H, 3H)
GOALS = {("train", "float32"): 1.0, ("train", "float64"): 0.5}


def make_problem(dtype, T, B, D, H, seed=0):
    """Weights (all biases non-zero), input, initial state and upstream gradient."""
    rng = np.random.default_rng(seed)
    params = gru.init(rng, D, H, dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = (0.5 * rng.standard_normal((B, H))).astype(dtype)
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    return params, x, h0, dh


def minirnn_train(params, x, h0, dh):
    h, cache = gru.forward(params, x, h0)
    dx, dh0, grads = gru.backward(dh, cache)
    return h, dx, dh0, grads["W_x"], grads["W_h"], grads["b_x"], grads["b_h"]


def reference_forward(params, x, h0, dh):
    return gru_forward(params, x, h0)


def torch_train(params, x, h0, dh):
    """torch.nn.GRU forward + backward(dh): step() to time, outputs() to check."""
    rnn = timing.torch_rnn(torch.nn.GRU, {
        "weight_ih_l0": params["W_x"].T, "weight_hh_l0": params["W_h"].T,
        "bias_ih_l0": params["b_x"], "bias_hh_l0": params["b_h"]})
    tx, th0 = timing.torch_leaf(x), timing.torch_leaf(h0, state=True)
    step = timing.torch_train_step(rnn, (tx, th0), lambda: rnn(tx, th0)[0], dh)

    def outputs():
        h = step().detach().numpy()
        return (h, tx.grad.numpy(), th0.grad[0].numpy(), rnn.weight_ih_l0.grad.T.numpy(),
                rnn.weight_hh_l0.grad.T.numpy(), rnn.bias_ih_l0.grad.numpy(),
                rnn.bias_hh_l0.grad.numpy())

    return step, outputs


CASES = [
    timing.Case("train", "train step",
                "Train step (forward + backward): time per step, ms; ratios from the min",
                ("h", "dx", "dh0", "dW_x", "dW_h", "db_x", "db_h"), minirnn_train,
                torch_train, timing.train_flops, timing.train_gemms),
]


def main(argv=None):
    timing.bench_vs_torch(argv, description=__doc__.split("\n\n")[0], module="gru",
                          torch_class="GRU", gates=GATES, shape=SHAPE,
                          what='variant "after"', make_problem=make_problem, cases=CASES,
                          reference=reference_forward, goals=GOALS)


if __name__ == "__main__":
    main()
