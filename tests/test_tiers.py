"""The test tiers: `make check` runs the unit tier, which covers the algorithm's parts and leaves out the slow,
notebook and browser tests (it collects the whole suite, ~30 s on 2 busy cores, so it is not in the tier itself)."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# what the unit tier must reach: losses, methods, step, loop, metrics, statistics, taxonomy, CLI errors
COVERS = [
    "test_losses.py",
    "test_methods.py",
    "test_unlearn.py::test_one_step_by_hand",
    "test_unlearn.py::test_same_seed_same_weights",
    "test_metrics.py",
    "test_stats.py",
    "test_taxonomy.py",
    "test_cli.py::test_bad_input_gets_a_clear_error",
    "test_ranges.py::test_cli_refuses_a_bad_float",
    "test_sweep_cli.py::test_config_errors_name_the_key",
    "test_salun_and_task_vector.py",
    "test_presets.py",
]
COLLECT = """
import json, sys, pytest
class Grab:
    def pytest_collection_finish(self, session):
        self.items = [(i.nodeid, sorted({m.name for m in i.iter_markers()})) for i in session.items]
grab = Grab()
rc = pytest.main(sys.argv[1:] + ["--collect-only", "-q", "-p", "no:cacheprovider"], plugins=[grab])
print("ITEMS " + json.dumps(getattr(grab, "items", None)))
sys.exit(rc)
"""


def check_args() -> list[str]:
    """pytest's arguments in the Makefile's `check` recipe."""
    recipe = re.search(r"^check: .*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert recipe, "the Makefile has no check target"
    return recipe.group(1).split(" -m pytest", 1)[1].split()


def unit_items(request) -> list[tuple[str, list[str]]]:
    """(node id, marker names) of what `pytest -m unit` selects. When this session collected the whole suite
    unfiltered (`make test`), its own items answer; otherwise a subprocess collects it (~10 s)."""
    config, items = request.config, request.session.items
    files = {Path(str(i.fspath)).name for i in items}
    whole = len(files) == len(list((ROOT / "tests").glob("test_*.py")))
    if whole and not config.getoption("markexpr") and not config.getoption("keyword"):
        marked = [(i.nodeid, sorted({m.name for m in i.iter_markers()})) for i in items]
        return [(node, marks) for node, marks in marked if "unit" in marks]
    out = subprocess.run(
        [sys.executable, "-c", COLLECT, *check_args()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(out.stdout.rsplit("ITEMS ", 1)[1])


def test_make_check_selects_the_unit_tier_and_nothing_slow(request):
    assert check_args() == ["-m", "unit"]
    items = unit_items(request)
    assert items and all("unit" in marks for _, marks in items)
    heavy = [node for node, marks in items if {"slow", "notebook", "browser", "ray"} & set(marks)]
    assert not heavy, heavy
    missing = [c for c in COVERS if not any(node.startswith(f"tests/{c}") for node, _ in items)]
    assert not missing, f"the unit tier lost {missing}"


def test_an_alone_test_waits_for_running_tests_and_goes_before_later_ones(tmp_path, monkeypatch):
    """`procs.cores` under xdist: an `alone` test waits while a test runs; a test that starts after it waits
    for it (the gate), so a stream of short tests cannot starve it. The alone test has every core (torch's
    threads and OMP_NUM_THREADS for its children), and the worker gets its own count back."""
    import os
    import threading
    import time

    import torch
    from procs import cores

    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setenv("KT_CACHE", str(tmp_path))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    events, seen, before = [], {}, torch.get_num_threads()

    def run(alone: bool, name: str):
        with cores(alone):
            events.append(name)
            seen[name] = (torch.get_num_threads(), os.environ["OMP_NUM_THREADS"])
            time.sleep(0.2)

    with cores(False):
        events.append("running")
        first = threading.Thread(target=run, args=(True, "alone"))
        first.start()
        time.sleep(0.3)
        later = threading.Thread(target=run, args=(False, "later"))
        later.start()
        time.sleep(0.3)
        # both wait: the alone test for this one, the later one at the gate
        assert events == ["running"]
    first.join(10)
    later.join(10)
    assert events == ["running", "alone", "later"]
    every = os.cpu_count() or 1
    assert seen == {"alone": (every, str(every)), "later": (before, "1")}, seen
    assert torch.get_num_threads() == before and os.environ["OMP_NUM_THREADS"] == "1"
