import os

import numpy as np
import pytest
from numba import cuda

# The CUDA twins' tests run on a real GPU where there is one, else under the simulator,
# which needs NUMBA_ENABLE_CUDASIM=1 before numba is imported: a pytest process of its
# own (.ci/run). Without either, the plain run skips them.
CUDA_KERNELS_RUN = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or cuda.is_available()


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU, or NUMBA_ENABLE_CUDASIM=1 in a "
                                   "process of its own (see .ci/run)")
    for item in items:
        if "cudasim" in item.keywords and not CUDA_KERNELS_RUN:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
