"""Fault injection across processes: concurrent builders, SIGINT/SIGTERM mid-run, and the command line.

Subprocesses run this checkout (PYTHONPATH) with the suite's KT_CACHE, so the world pools are not
re-rendered. The kt world --retrain child pretrains a tiny world (the command's code path, a smaller
configuration) so that it reaches the pretraining loop within seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from procs import default_sigint

from kt_harness.cli import main
from kt_lib import cachefile
from kt_lib.cache import RunCache
from kt_lib.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
SMALL_WORLD = (
    "WorldConfig(seed=11, pretrain_per_class=2, family_per_class=2, proxy_per_class=3, "
    "proxy_drawing_per_class=1, test_per_class=6, family_test_per_class=6)"
)


CHILDREN: list[subprocess.Popen] = []


def spawn(args, log: Path, env=None) -> subprocess.Popen:
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=fh,
            env=env or ENV,
            cwd=ROOT,
            preexec_fn=default_sigint,
        )
    CHILDREN.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _reap_children():
    """A failed test must not leave its children running."""
    yield
    while CHILDREN:
        proc = CHILDREN.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for(log: Path, text: str, proc: subprocess.Popen, limit: float = 900) -> None:
    """Block until `text` shows in the child's stderr (the limit only guards against a hang)."""
    end = time.monotonic() + limit
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, f"child ended early:\n{log.read_text(errors='replace')[-2000:]}"
        assert time.monotonic() < end, f"{text!r} never appeared"
        time.sleep(0.1)


def temp_files(*folders) -> list[Path]:
    return [p for f in folders for p in Path(f).rglob("*") if p.name.endswith(".tmp")]


BUILDER = f"""
import hashlib, os, sys, time
from pathlib import Path
import torch
from kt_lib.knowledge.datasets import cached_tensors
from kt_lib.cache import RunCache
from kt_lib.world.config import WorldConfig
from kt_lib.world.data import load_pool
ready, me = Path(sys.argv[1]), sys.argv[2]
(ready / me).touch()
while len(list(ready.iterdir())) < 2:  # start building together
    time.sleep(0.005)
pool = load_pool({SMALL_WORLD}, "test")
data = torch.utils.data.TensorDataset(torch.arange(8000.0).view(-1, 8), torch.arange(1000))
tensors = cached_tensors(data, "shared")
cache = RunCache(Path(os.environ["KT_CACHE"]) / "sweeps.jsonl")
for i in range(100):
    cache.put(f"{{me}}-{{i}}", dict(i=i, who=me))
digest = hashlib.sha256(b"".join(pool[k].tobytes() for k in sorted(pool)))
digest.update(tensors["images"].numpy().tobytes())
print(digest.hexdigest())
"""


def test_two_processes_build_the_same_caches_at_once(tmp_path, capsys):
    cache, ready = tmp_path / "cache", tmp_path / "ready"
    ready.mkdir()
    script = tmp_path / "builder.py"
    script.write_text(BUILDER)
    env = dict(ENV, KT_CACHE=str(cache))
    procs = [spawn([script, ready, str(i)], tmp_path / f"b{i}.log", env) for i in range(2)]
    outs = [p.communicate(timeout=900)[0].decode().strip() for p in procs]
    logs = [(tmp_path / f"b{i}.log").read_text() for i in range(2)]
    assert [p.returncode for p in procs] == [0, 0], logs
    assert outs[0] == outs[1] and len(outs[0]) == 64  # identical results
    assert not any("kt: cache" in log for log in logs)  # neither saw half of the other's file
    for f in cache.glob("*.ktc"):
        cachefile.read_cache(f, "world-pool" if f.name.startswith("world-") else "tensors", 1)
    assert temp_files(cache) == []
    rows = RunCache(cache / "sweeps.jsonl")
    assert len(rows) == 200 and capsys.readouterr().err == ""  # every appended row, none damaged


CLAIMER = """
import sys, time
from pathlib import Path
from kt_lib.cache import RunCache

cache = RunCache(sys.argv[1])
with cache.claim("run-a"):
    Path(sys.argv[2]).write_text("claimed")
    time.sleep(1.0)
    cache.put("run-a", dict(Q=1.0))
"""


def test_a_claimed_key_makes_another_process_wait_for_its_row(tmp_path):
    """Two processes asking for one run: the second claim returns only after the first wrote the row, so
    the second finds it (`RunCache.claim`, what `Experiment.run` and `derive` use) instead of training."""
    path, marker, script = tmp_path / "runs.jsonl", tmp_path / "claimed", tmp_path / "claimer.py"
    script.write_text(CLAIMER)
    child = spawn([script, path, marker], tmp_path / "claimer.log")
    for _ in range(600):
        if marker.exists() or child.poll() is not None:
            break
        time.sleep(0.05)
    assert marker.exists(), (tmp_path / "claimer.log").read_text()
    cache = RunCache(path)
    assert cache.get("run-a") is None  # the other process holds the key and has not written yet
    with cache.claim("run-a"):
        assert cache.get("run-a") == dict(Q=1.0)
        with cache.claim("run-a"):  # a nested claim of a key this process holds does not wait
            pass
    assert child.wait(timeout=60) == 0
    assert [p.name for p in (tmp_path / "runs.jsonl.locks").iterdir()]  # one lock file per key
    with RunCache(None).claim("x"):  # an in-memory cache holds nothing
        pass


def test_a_claim_ends_with_a_killed_holder(tmp_path):
    """A process killed (SIGKILL: no cleanup runs) while it holds a key leaves nothing held: the kernel
    drops its lock with the process, so the next process claims the key at once. (A lock kept as an entry
    in a store, as diskcache's Lock, stays taken after such a kill until it expires.)"""
    hold = "import os, sys\nfrom kt_lib.cache import RunCache\n"
    hold += "RunCache(sys.argv[1]).claim('run-a').__enter__()\nos.kill(os.getpid(), 9)\n"
    killed = subprocess.run(
        [sys.executable, "-c", hold, tmp_path / "runs.jsonl"], env=ENV, timeout=120
    )
    assert killed.returncode == -signal.SIGKILL
    take = "import sys\nfrom kt_lib.cache import RunCache\nwith RunCache(sys.argv[1]).claim('run-a'):\n"
    take += "    print('claimed')\n"
    out = subprocess.run(
        [sys.executable, "-c", take, tmp_path / "runs.jsonl"],
        env=ENV,
        capture_output=True,
        timeout=120,
    )
    assert out.stdout.decode().strip() == "claimed", out.stderr.decode()[-2000:]


UNLEARN = ["-m", "kt_harness", "unlearn", "--forget", "Samoyed", "--samples-per-class", "2"]
UNLEARN += ["--eval-per-class", "2"]


@pytest.mark.slow  # ~20-30 s of processes started and killed on 2 cores; CI runs it (KT_SLOW=1)
@pytest.mark.alone
def test_concurrent_saves_leave_one_complete_file_and_sigterm_leaves_none(tmp_path):
    out = tmp_path / "out"
    target = out / "u.safetensors"
    args = [*UNLEARN, "--save", str(target)]
    a = spawn([*args, "--epochs", "1"], tmp_path / "a.log")
    b = spawn([*args, "--epochs", "1"], tmp_path / "b.log")
    for p in (a, b):
        p.communicate(timeout=900)
    assert (a.returncode, b.returncode) == (0, 0), (tmp_path / "a.log").read_text()[-2000:]
    state, meta = load_checkpoint(target, require_format=2)  # complete: the checksum holds
    assert meta["method"] == "nhl_kl" and len(state) > 10
    saved = target.read_bytes()
    c = spawn([*args, "--epochs", "5000"], tmp_path / "c.log")  # stopped while it trains
    wait_for(tmp_path / "c.log", "unlearning (", c)
    time.sleep(0.5)
    c.send_signal(signal.SIGTERM)
    c.communicate(timeout=900)
    log = (tmp_path / "c.log").read_text()
    assert c.returncode == 143 and "Traceback" not in log
    assert [x for x in log.splitlines() if x.startswith("kt unlearn: ")] == [
        "kt unlearn: stopped by SIGTERM; unfinished checkpoints and caches were not written"
    ]  # on its own line, after the progress bar
    assert target.read_bytes() == saved and sorted(out.iterdir()) == [target]


RETRAIN = f"""
import sys
import kt_lib.world.model as M
from kt_harness.cli import main
from kt_lib.world.config import WorldConfig
from kt_lib.world.pretrain import PretrainConfig
M.WorldConfig = lambda: {SMALL_WORLD}
M.PretrainConfig = lambda: PretrainConfig(num_steps=100000, batch_size=8, warmup_steps=1)
sys.exit(main(["world", "--retrain", "--save-to", sys.argv[1]]))
"""


def test_sigint_during_pretraining_leaves_no_checkpoint_and_a_rerun_works(tmp_path):
    from kt_lib.world.config import WorldConfig
    from kt_lib.world.model import world_model
    from kt_lib.world.pretrain import PretrainConfig

    script, target = tmp_path / "retrain.py", tmp_path / "out" / "w.safetensors"
    script.write_text(RETRAIN)
    env = dict(ENV, KT_CACHE=str(tmp_path / "cache"))
    proc = spawn([script, target], tmp_path / "w.log", env)
    wait_for(tmp_path / "w.log", "pretraining the world model", proc)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=900)
    log = (tmp_path / "w.log").read_text()
    assert (
        proc.returncode == 130 and "kt world: stopped by SIGINT" in log and "Traceback" not in log
    )
    assert not target.exists() and temp_files(tmp_path) == []
    small = eval(SMALL_WORLD, {"WorldConfig": WorldConfig})  # the child's world
    cfg = PretrainConfig(num_steps=2, batch_size=8, warmup_steps=1)
    world_model(small, cfg, retrain=True, progress=False, save_to=target)  # restarts cleanly
    assert load_checkpoint(target, require_format=2)[1]["pretrain"]["num_steps"] == 2


SWEEP = """
import sys
from kt_lib.experiment import Experiment
exp = Experiment(["Samoyed"], samples_per_class=2, eval_per_class=2, num_epochs=1, cache=sys.argv[1])
exp.compare([(f"m{i}", dict(method="nhl_kl", margin=0.5 + i / 10)) for i in range(40)])
"""


def test_interrupted_sweep_keeps_finished_rows_and_resumes(tmp_path, world_model, capsys):
    from kt_lib.experiment import Experiment

    script, path = tmp_path / "sweep.py", tmp_path / "sweeps.jsonl"
    script.write_text(SWEEP)
    proc = spawn([script, path], tmp_path / "s.log")
    end = time.monotonic() + 900
    while not path.exists() or path.read_text().count("\n") < 3:  # the format line and two rows
        assert proc.poll() is None and time.monotonic() < end, (tmp_path / "s.log").read_text()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=900)
    assert proc.returncode != 0
    cache = RunCache(path)
    done = len(cache)
    assert done >= 2 and capsys.readouterr().err == ""  # every finished row intact, nothing damaged
    model, tokenizer, _ = world_model
    exp = Experiment(
        ["Samoyed"],
        model,
        tokenizer,
        samples_per_class=2,
        eval_per_class=2,
        num_epochs=1,
        cache=cache,
    )

    def no_training(*a, **k):
        raise AssertionError("a finished row was trained again")

    exp.unlearn = no_training  # every training goes through Experiment.unlearn
    margins = [0.5 + i / 10 for i in range(done)]
    rows = exp.compare([(f"m{i}", dict(method="nhl_kl", margin=m)) for i, m in enumerate(margins)])
    assert rows.margin.tolist() == margins  # resumed: the finished rows come from the file
    assert exp.key(method="nhl_kl", margin=0.5 + done / 10) not in cache


# --- the command line ----------------------------------------------------------------------------------


def test_truncated_cache_then_the_same_command_succeeds_with_one_line(
    tmp_path, monkeypatch, capsys
):
    from kt_lib.world.config import WorldConfig
    from kt_lib.world.data import load_pool, pool_path

    world = WorldConfig()
    for pool in ("proxy", "test"):  # the suite's cached pools, copied into a private cache
        load_pool(world, pool)
        (tmp_path / pool_path(world, pool).name).write_bytes(pool_path(world, pool).read_bytes())
    monkeypatch.setenv("KT_CACHE", str(tmp_path))
    test_pool = pool_path(world, "test")
    test_pool.write_bytes(test_pool.read_bytes()[:1000])
    capsys.readouterr()
    argv = UNLEARN[2:] + ["--epochs", "1"]
    assert main(argv) == 0
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("kt: ")]
    assert len(lines) == 1 and str(test_pool) in lines[0] and "rebuilding" in lines[0]
    cachefile.read_cache(test_pool, "world-pool", 1)  # rebuilt and valid


def test_unwritable_cache_is_one_line_naming_kt_cache(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("KT_CACHE", str(tmp_path / "file" / "cache"))
    assert main(UNLEARN[2:]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and err[0].startswith("kt unlearn: error: cannot write")
        and "KT_CACHE" in err[0]
    )


def test_no_arguments_print_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: kt") and all(c in out for c in ("world", "unlearn", "bench"))


BAD = [
    ["wrld"],
    ["world", "--save-to"],
    ["world", "--retrain", "--bogus"],
    ["taxonomy", "show", "Samoyd"],
    ["taxonomy", "request", "Samoyed", "--taxonomy", "nope"],
    ["unlearn", "--method", "nhl-kl", "--forget", "Samoyed"],
    ["unlearn", "--epochs", "0", "--forget", "Samoyed"],
    ["unlearn", "--epochs", "two", "--forget", "Samoyed"],
    ["unlearn", "--lr", "-1", "--forget", "Samoyed"],
    ["unlearn", "--model", "ViT-B-32", "--forget", "Samoyed"],
    ["tutorial", "--only", "no-such-notebook"],
    ["tutorial", "--jobs", "0"],
    ["bench", "step", "--device", "cpu", "--steps", "0"],
    ["bench", "scaling", "--device", "cpu", "--batches", "0"],
    ["bench", "eval", "--device", "cuda:7"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a) for a in BAD])
def test_bad_values_are_one_error_line_without_traceback(argv, capsys, world_model):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    prefix = "kt: error:" if argv == ["wrld"] else f"kt {argv[0]}"
    errors = [x for x in err.splitlines() if x.startswith(prefix) and ": error:" in x]
    assert code not in (0, None) and len(errors) == 1 and "Traceback" not in err, err


def test_debug_shows_the_traceback(world_model):
    with pytest.raises(ValueError, match="nhl_kl"):
        main(["unlearn", "--method", "nhl-kl", "--forget", "Samoyed", "--debug"])
