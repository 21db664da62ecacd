"""Shared test setup: a repo-local cache (world pixels are rendered once per checkout) and small worlds."""

import os
from pathlib import Path

import pytest
from procs import cores

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("KT_CACHE", str(ROOT / ".kt_cache"))
os.environ.setdefault("KT_SMOKE", "1")
# matplotlib's font list and rc from the checkout, not from the user's ~/.cache/matplotlib: CI once met a
# font list there without matplotlib's bundled fonts, and every kernel that drew mathtext printed
# "findfont: Font family ['STIXGeneral'] not found" into its cells (the browser test fails on that)
os.environ.setdefault("MPLCONFIGDIR", str(ROOT / ".kt_cache" / "matplotlib"))

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two pytest-xdist workers: each, and what it starts (CLI runs, kernels), on its share of
    # the cores instead of every process on all of them
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(
            var, str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
        )

import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or min(2, os.cpu_count() or 1)))


def pytest_collection_modifyitems(config, items):
    if os.environ.get("KT_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set KT_SLOW=1 (CI does)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _share_cores(request):
    """Tests marked `alone` (the 2-thread pretrainings, the notebooks' kernels, the timed browser check, process
    kills) run by themselves, and no test leaves the worker on another torch thread count than it found
    (`kt bench --threads` run in process sets it for good, as a CLI may)."""
    threads = torch.get_num_threads()
    with cores(alone=request.node.get_closest_marker("alone") is not None):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def own_run_cache(tmp_path_factory, monkeypatch):
    """Each test its own machine run cache (`kt_lib.cache.machine_cache`, what Experiment and `kt unlearn`
    use by default): a row that an earlier test or session cached never answers a test that trains. The
    world's pools stay in KT_CACHE."""
    import kt_lib.cache

    path = tmp_path_factory.mktemp("runs") / kt_lib.cache.RUNS_FILE
    monkeypatch.setattr(kt_lib.cache, "RUNS_FILE", str(path))  # absolute: cache_dir() / it is it


@pytest.fixture(scope="session")
def small_world():
    from kt_lib.world.config import WorldConfig

    return WorldConfig(
        seed=3,
        pretrain_per_class=2,
        family_per_class=2,
        proxy_per_class=3,
        proxy_drawing_per_class=1,
        test_per_class=2,
        family_test_per_class=2,
    )


@pytest.fixture(scope="session")
def world_model():
    """The default world model (shipped checkpoint, else cache, else pretrained once)."""
    from kt_lib.world.model import world_model as load

    model, tokenizer, info = load(progress=False)
    return model, tokenizer, info


@pytest.fixture(scope="module")
def exp(world_model, request):
    """An Experiment on the default world model, one per test module: a module sets its request and sizes
    in a module-level EXPERIMENT dict (Experiment's keyword arguments); without one, Experiment's defaults."""
    from kt_lib.experiment import Experiment

    model, tokenizer, _ = world_model
    return Experiment(model=model, tokenizer=tokenizer, **getattr(request.module, "EXPERIMENT", {}))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With KT_REQUIRE_WORDNET=1 (CI), a test skipped for lack of WordNet fails instead."""
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and os.environ.get("KT_REQUIRE_WORDNET") == "1"
        and "WordNet" in str(report.longrepr)
    ):
        report.outcome = "failed"
        report.longrepr = f"WordNet is required here (KT_REQUIRE_WORDNET=1): {report.longrepr}"
