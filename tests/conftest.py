import os

import numpy as np
import pytest

CUDASIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def pytest_collection_modifyitems(config, items):
    """CUDA-simulator tests need NUMBA_ENABLE_CUDASIM=1 before numba is imported, so
    they run in their own pytest process (.ci/run); the plain run skips them."""
    skip = pytest.mark.skip(reason="needs NUMBA_ENABLE_CUDASIM=1 (own process; see .ci/run)")
    for item in items:
        if "cudasim" in item.keywords and not CUDASIM:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
