"""kernels/pool.py: memory is lent again only once nothing holds the array or a view
of it, and the recurrent cells' caches stay intact while later calls reuse memory."""
import threading

import numpy as np
import pytest

from minirnn import elman, gru, lstm
from minirnn.kernels import pool

BIG = (256, 1024)                   # 2 MB in float64: over POOL_BYTES


@pytest.fixture(autouse=True)
def fresh_pool(monkeypatch):
    """Each test starts from an empty pool and leaves the shared one alone."""
    monkeypatch.setattr(pool, "_bases", [])


def address(a):
    return a.__array_interface__["data"][0]


def test_small_arrays_are_plain_numpy_arrays():
    a = pool.empty((10, 10), np.float32)
    assert a.shape == (10, 10) and a.dtype == np.float32 and a.flags.owndata
    assert pool._bases == []


def test_memory_of_a_dropped_array_is_lent_again_in_any_dtype():
    a = pool.empty(BIG, np.float64)
    first = address(a)
    del a
    b = pool.empty((2 * BIG[0], BIG[1]), np.float32)          # the same bytes, as float32
    assert address(b) == first
    assert b.shape == (2 * BIG[0], BIG[1]) and b.dtype == np.float32
    assert b.flags.c_contiguous and b.flags.writeable
    assert len(pool._bases) == 1


@pytest.mark.parametrize("hold", [lambda a: a, lambda a: a[1:, ::2], lambda a: (1, a.T),
                                  lambda a: memoryview(a.reshape(-1))])
def test_memory_still_held_is_never_lent_again(hold):
    """Held as the array, a view of it, inside a tuple (as a cache holds it) or as a
    buffer: a second array must get other memory, checked by writing to both."""
    a = pool.empty(BIG, np.float64)
    a[...] = 1.0
    kept, a = hold(a), None
    b = pool.empty(BIG, np.float64)
    b[...] = 2.0
    still = np.asarray(kept[1] if isinstance(kept, tuple) else kept)
    assert not np.shares_memory(b, still) and np.all(still == 1.0)


def test_smaller_unused_bases_are_let_go_on_a_miss():
    held = pool.empty(BIG, np.float64)
    pool.empty(BIG, np.float64)                                  # dropped at once
    bigger = pool.empty((4 * BIG[0], BIG[1]), np.float64)
    sizes = sorted(base.size for base in pool._bases)
    assert sizes == [held.nbytes, bigger.nbytes]


def test_threads_never_share_memory():
    """Eight threads take, fill, check and drop arrays: a race in the test for free
    memory would lend one base to two threads, and one's values would change."""
    errors = []

    def work(value):
        for _ in range(50):
            a = pool.empty(BIG, np.float64)
            a[...] = value
            if not np.all(a == value):
                errors.append(value)
            del a                                 # at most one array per thread

    threads = [threading.Thread(target=work, args=(v,)) for v in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(pool._bases) <= 8


def test_matmul():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((600, 64)), rng.standard_normal((64, 384))
    np.testing.assert_allclose(pool.matmul(a, b), a @ b, rtol=1e-12, atol=1e-12)


#: init, forward(params, x) -> (h, cache) and backward(dh, cache) -> grads of each cell
CELLS = [pytest.param(elman.init, elman.forward, lambda dh, c: elman.backward(dh, c)[2], id="elman"),
         pytest.param(lstm.init, lstm.forward, lambda dh, c: lstm.backward(dh, c)[3], id="lstm"),
         pytest.param(gru.init, gru.forward, lambda dh, c: gru.backward(dh, c)[2], id="gru")]


@pytest.mark.parametrize("init, forward, backward", CELLS)
def test_a_cache_kept_across_later_calls_gives_its_own_gradients(init, forward, backward):
    """Two forward passes on different data, their backward passes in reverse order
    (as stacked and bidirectional layers run them), then more calls: every result
    equals the same computation run alone, before any memory was reused. Arrays of
    T = 100, B = 32, H = 64 in float64 are large enough for the pool."""
    rng = np.random.default_rng(1)
    T, B, D, H = 100, 32, 48, 64
    params = init(rng, D, H, np.float64)
    xs = [rng.standard_normal((T, B, D)) for _ in range(2)]
    dh = rng.standard_normal((T, B, H))
    alone = []
    for x in xs:
        h, cache = forward(params, x)
        alone.append((h.copy(), {k: g.copy() for k, g in backward(dh, cache).items()}))
        del h, cache
    assert pool._bases, "the pool was not used: make the shapes larger"
    (h1, c1), (h2, c2) = forward(params, xs[0]), forward(params, xs[1])
    for (h, c), (h_alone, grads_alone) in zip([(h2, c2), (h1, c1)], alone[::-1]):
        np.testing.assert_array_equal(h, h_alone)
        grads = backward(dh, c)
        forward(params, xs[1])                           # a later call, its result dropped
        for k in grads_alone:
            np.testing.assert_array_equal(grads[k], grads_alone[k], err_msg=k)


@pytest.mark.parametrize("init, forward, backward", CELLS)
def test_train_steps_reuse_their_memory(init, forward, backward):
    """From the second train step on, no new memory: a reference to an array kept
    by mistake (in a module global, say) would show as new bases."""
    rng = np.random.default_rng(2)
    params = init(rng, 48, 64, np.float64)
    x, dh = rng.standard_normal((100, 32, 48)), rng.standard_normal((100, 32, 64))

    def step():
        backward(dh, forward(params, x)[1])

    step()
    bases = [id(base) for base in pool._bases]
    for _ in range(3):
        step()
    assert [id(base) for base in pool._bases] == bases
