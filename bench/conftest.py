import _peers  # noqa: F401,E402 (PyTorch before fastnn)
import pytest

import fastnn


def pytest_addoption(parser):
    parser.addoption(
        "--threads",
        default="1,max",
        help="comma-separated thread counts to benchmark ('max' = all usable cores)",
    )


def thread_counts(config):
    counts = []
    for item in config.getoption("--threads").split(","):
        n = fastnn._config.usable_cores() if item.strip() == "max" else int(item)
        if n not in counts:
            counts.append(n)
    return counts


def pytest_generate_tests(metafunc):
    if "threads" in metafunc.fixturenames:
        metafunc.parametrize("threads", thread_counts(metafunc.config), ids=lambda n: f"{n}T")


@pytest.fixture(autouse=True)
def _keep_threads():
    before = fastnn.get_num_threads()
    yield
    fastnn.set_num_threads(before)
