"""Benchmark the LSTM train step and forward pass: minirnn vs PyTorch (CPU).

What is measured (see benchmarks/README.md for how to read it):

* **Train step** = ``minirnn.lstm.forward`` + ``minirnn.lstm.backward`` with a fixed
  random upstream gradient dL/dh, at T=200, B=64, D=64, H=128 (no peepholes,
  full-length sequences, random h0 and c0), in float32 and float64, against
  ``torch.nn.LSTM`` (forward + ``backward(dh)``) holding the same weights:
  weight_ih_l0 = W_x.T, weight_hh_l0 = W_h.T, bias_ih_l0 = b, bias_hh_l0 = 0.
* **Forward pass** = ``minirnn.lstm.forward(..., backprop=False)`` alone against
  ``torch.nn.LSTM`` under ``torch.no_grad()``: neither keeps anything for a backward
  pass.
* **Correctness first**: h, dx, dh0, dc0, dW_x, dW_h, db (and the forward pass's h) of
  minirnn are compared with PyTorch's before anything is timed; a mismatch aborts the
  run. Without PyTorch, h is checked against the NumPy loop of tests/reference/lstm.py.
* Timing in blocks and passes, GFLOP/s, NumPy's GEMM rates for the step's two product
  shapes, and the compile-time probe, as in elman.py (benchmarks/timing.py).
* **Goals**, minirnn time / torch time: train step float32 <= 1.0, float64 <= 0.5,
  forward float32 <= 2.0.

Run from the repository root: ``python benchmarks/lstm.py [--quick] [--repeats N]
[--json PATH]``, or ``minirnn bench lstm [ARGS]``.
"""
import numpy as np

import timing                   # benchmarks/timing.py: also puts the repository root on sys.path
from minirnn import lstm
from tests.reference.lstm import lstm_forward
from timing import torch        # None without PyTorch

SHAPE = dict(T=200, B=64, D=64, H=128)
GATES = 4                       # [i | f | g | o]: W_x (D, 4H), W_h (H, 4H)
GOALS = {("train", "float32"): 1.0, ("train", "float64"): 0.5, ("forward", "float32"): 2.0}


def make_problem(dtype, T, B, D, H, seed=0):
    """Weights, input, initial states and upstream gradient, shared by both sides."""
    rng = np.random.default_rng(seed)
    params = lstm.init(rng, D, H, dtype)
    params["b"] += rng.uniform(-0.1, 0.1, 4 * H).astype(dtype)  # every bias non-zero
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0 = (0.5 * rng.standard_normal((B, H))).astype(dtype)
    c0 = (0.5 * rng.standard_normal((B, H))).astype(dtype)
    dh = rng.standard_normal((T, B, H)).astype(dtype)
    return params, x, h0, c0, dh


# ------------------------------------------------------------------------ minirnn

def minirnn_train(params, x, h0, c0, dh):
    h, cache = lstm.forward(params, x, h0, c0)
    dx, dh0, dc0, grads = lstm.backward(dh, cache)
    return h, dx, dh0, dc0, grads["W_x"], grads["W_h"], grads["b"]


def minirnn_forward(params, x, h0, c0, dh):
    return lstm.forward(params, x, h0, c0, backprop=False)[:1]


def reference_forward(params, x, h0, c0, dh):
    return lstm_forward(params, x, h0, c0, np.full(x.shape[1], x.shape[0]))


# ------------------------------------------------------------------------ PyTorch

def torch_lstm(params):
    return timing.torch_rnn(torch.nn.LSTM, {
        "weight_ih_l0": params["W_x"].T, "weight_hh_l0": params["W_h"].T,
        "bias_ih_l0": params["b"], "bias_hh_l0": np.zeros_like(params["b"])})


def torch_train(params, x, h0, c0, dh):
    """torch.nn.LSTM forward + backward(dh): step() to time, outputs() to check."""
    rnn = torch_lstm(params)
    tx = timing.torch_leaf(x)
    th0, tc0 = timing.torch_leaf(h0, state=True), timing.torch_leaf(c0, state=True)
    step = timing.torch_train_step(rnn, (tx, th0, tc0), lambda: rnn(tx, (th0, tc0))[0], dh)

    def outputs():
        h = step().detach().numpy()
        return (h, tx.grad.numpy(), th0.grad[0].numpy(), tc0.grad[0].numpy(),
                rnn.weight_ih_l0.grad.T.numpy(), rnn.weight_hh_l0.grad.T.numpy(),
                rnn.bias_ih_l0.grad.numpy())

    return step, outputs


def torch_forward(params, x, h0, c0, dh):
    """torch.nn.LSTM forward under no_grad: step() to time, outputs() to check."""
    rnn = torch_lstm(params)
    tx, state = torch.from_numpy(x), (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None])

    def step():
        with torch.no_grad():
            return rnn(tx, state)[0]

    return step, lambda: (step().numpy(),)


CASES = [
    timing.Case("train", "train step",
                "Train step (forward + backward): time per step, ms; ratios from the min",
                ("h", "dx", "dh0", "dc0", "dW_x", "dW_h", "db"), minirnn_train, torch_train,
                timing.train_flops, timing.train_gemms),
    timing.Case("forward", "forward",
                "Forward pass (torch under no_grad): time per call, ms; ratios from the min",
                ("h",), minirnn_forward, torch_forward, timing.forward_flops),
]


def main(argv=None):
    timing.bench_vs_torch(argv, description=__doc__.split("\n\n")[0], module="lstm",
                          torch_class="LSTM", gates=GATES, shape=SHAPE,
                          what="no peepholes", make_problem=make_problem, cases=CASES,
                          reference=reference_forward, goals=GOALS)


if __name__ == "__main__":
    main()
