import numpy as np
import pytest

import fastnn


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Tests that change threads or backend must not leak the change into other tests."""
    threads = fastnn.get_num_threads()
    backend = fastnn.get_backend()
    yield
    fastnn.set_num_threads(threads)
    fastnn.use_backend(backend)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
