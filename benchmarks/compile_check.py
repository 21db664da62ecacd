"""torch.compile (inductor, CPU) measured on the unlearning step and on the evaluation's image encoder.

    .venv/bin/python benchmarks/compile_check.py --json benchmarks/compile_check.json
    .venv/bin/python benchmarks/compile_check.py --steps 8 --repeats 1 --methods nhl_kl ga   # a quick check

What is compiled (kt_lib is not edited: the script patches the compiled parts in at run time):

* `step`: the towers inside the real trainer (`Experiment.run` -> `kt_lib.unlearn.unlearn`), forward and,
  through AOTAutograd, backward: the run's copy's image tower (`model.visual.compile()`, in place, after the
  method's `prepare`) and the text tower's transformer body as the engine runs it
  (`kt_lib.textenc._transformer_shared_prefix`). The loss (one host sync per step), the fused Adam step and
  the methods' hooks stay eager: the towers are where open_clip's many small kernels are, and the loss'
  `.item()` would break any larger graph anyway. The evaluation after each run is eager on both sides.
* `encoder`: the evaluated model's image tower (`model.visual.compile()`, eval, no grad) over every test image
  the full evaluation encodes (each domain's and each zero-shot family's images, `encode_images` batches).

Each target runs in two fresh processes that share one inductor cache folder under the machine's cache
(`$KT_CACHE/inductor/compile_check`, emptied first): the cold process compiles into it, the warm process
loads from it (dynamo still traces the Python; inductor's FX-graph and AOTAutograd caches skip the rest).
In each process eager and compiled take turns (eager first), run by run, on the same seeded settings:

* first compiled run (cold: compile; warm: load) against the eager runs of the same process;
* per-step seconds (every `unlearn_step` call, timed by a wrapper) and per-run seconds: the median of the
  warm process's `--repeats` interleaved runs (the first runs are excluded);
* metrics: Q, U, Q-U of the compiled run minus the eager run's, the max abs weight difference of the two
  unlearned models, the encoder's max abs feature difference;
* breaks: a method whose compiled run raises is listed with a one-line reason and its run falls back to
  eager; graph breaks and graphs compiled are counted (`torch._dynamo.utils.counters`) per method.

All seconds are wall-clock on this machine at this load: the JSON records the load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
MARK = "COMPILE_CHECK_RESULT "


def one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:200] if text else ''}"


def dynamo_counts() -> dict:
    from torch._dynamo.utils import counters

    return dict(
        graph_breaks=sum(counters["graph_break"].values()),
        graphs=counters["stats"].get("unique_graphs", 0),
        break_reasons=sorted(counters["graph_break"]),
    )


def counts_since(before: dict) -> dict:
    now = dynamo_counts()
    reasons = [r for r in now["break_reasons"] if r not in before["break_reasons"]]
    return dict(
        graph_breaks=now["graph_breaks"] - before["graph_breaks"],
        graphs_compiled=now["graphs"] - before["graphs"],
        new_break_reasons=[r[:200] for r in reasons],
    )


class Patches:
    """Turns the step target's compilation on and off in `kt_lib` at run time, and times every step."""

    def __init__(self):
        import kt_lib.experiment as experiment
        import kt_lib.textenc as textenc
        import kt_lib.unlearn as unlearn

        self.modules = experiment, textenc, unlearn
        self.originals = (
            experiment.unlearn,
            textenc._transformer_shared_prefix,
            unlearn._prompt_features,
        )
        self.compiled_text = torch.compile(textenc._transformer_shared_prefix)
        self.step_seconds: list[float] = []
        original_step = unlearn.unlearn_step

        def timed_step(*a, **kw):
            t0 = time.perf_counter()
            out = original_step(*a, **kw)
            self.step_seconds.append(time.perf_counter() - t0)
            return out

        unlearn.unlearn_step = timed_step

    @contextlib.contextmanager
    def compiled(self, on: bool):
        experiment, textenc, unlearn = self.modules
        run_unlearn, text_body, prompt_features = self.originals
        if not on:
            yield
            return

        def prompt_features_compiling(model, bank, towers):
            model.visual.compile()  # the run's copy, after the method's prepare (SalUn, projection)
            return prompt_features(model, bank, towers)

        def unlearn_then_eager(*a, **kw):
            result = run_unlearn(*a, **kw)
            result.model.visual._compiled_call_impl = None  # the evaluation stays eager
            return result

        experiment.unlearn, unlearn._prompt_features = unlearn_then_eager, prompt_features_compiling
        textenc._transformer_shared_prefix = self.compiled_text
        try:
            yield
        finally:
            experiment.unlearn, textenc._transformer_shared_prefix = run_unlearn, text_body
            unlearn._prompt_features = prompt_features


def step_child(args) -> dict:
    from kt_lib.cache import RunCache
    from kt_lib.derived import Kept
    from kt_lib.experiment import Experiment
    from kt_lib.methods import list_methods

    exp = Experiment(args.forget, eval_per_class=args.eval_per_class, cache=None)
    _ = exp.before  # the original model's accuracies: computed once, outside every timing
    patches = Patches()
    methods = args.methods or [name for name, _ in list_methods()]
    out = {}

    def run(name, compiled):
        # every run trains and evaluates its model (same work both ways): no row, model or prediction kept
        exp.cache, exp.kept = RunCache(None), Kept()
        exp.evaluator._cache.clear()
        patches.step_seconds = []
        t0 = time.perf_counter()
        with patches.compiled(compiled):
            row = exp.run(name, scope=args.scope, num_steps=args.steps)
        wall = time.perf_counter() - t0
        row["model"] = exp.result(row).model  # kept from the run: no second training
        times = dict(run_s=wall, train_s=row["seconds"], threads=torch.get_num_threads())
        return row, dict(times, steps_s=patches.step_seconds)

    for name in methods:
        rec = out[name] = {}
        eager_row, eager_first = run(name, False)
        before = dynamo_counts()
        try:
            comp_row, comp_first = run(name, True)
        except Exception as err:  # noqa: BLE001  (a compile failure is a finding: the run falls back to eager)
            rec["error"] = one_line(err)
            print(f"{name}: torch.compile failed ({rec['error']}); eager only", file=sys.stderr)
            continue
        rec.update(counts_since(before))
        rec["steps"] = comp_row["steps"]
        rec["first_eager"] = {k: v for k, v in eager_first.items() if k != "steps_s"}
        rec["first_compiled"] = {k: v for k, v in comp_first.items() if k != "steps_s"}
        rec["metric_diff"] = {k: comp_row[k] - eager_row[k] for k in ("Q", "U", "QU")}
        rec["eager_metrics"] = {k: eager_row[k] for k in ("Q", "U", "QU")}
        a, b = (r["model"].state_dict() for r in (eager_row, comp_row))
        rec["max_abs_weight_diff"] = max(float((a[k] - b[k]).abs().max()) for k in a)
        timed = {"eager": [], "compiled": []}
        for _ in range(args.repeats):
            for variant in timed:
                timed[variant].append(run(name, variant == "compiled")[1])
        if args.repeats:
            rec["median"] = {
                variant: dict(
                    run_s=statistics.median(t["run_s"] for t in runs),
                    train_s=statistics.median(t["train_s"] for t in runs),
                    step_s=statistics.median(s for t in runs for s in t["steps_s"])
                    if any(t["steps_s"] for t in runs)
                    else None,
                )
                for variant, runs in timed.items()
            }
            drop = lambda t: {k: v for k, v in t.items() if k != "steps_s"}  # noqa: E731
            rec["runs"] = {variant: [drop(t) for t in runs] for variant, runs in timed.items()}
        print(f"{name}: done", file=sys.stderr, flush=True)
    return out


def encoder_child(args) -> dict:
    from kt_lib.experiment import Experiment
    from kt_lib.zeroshot import encode_images

    exp = Experiment(args.forget, eval_per_class=args.eval_per_class)
    ev = exp.evaluator
    sets = [d.images for d in ev.domains.values()] + [f.images for f in ev.families.values()]
    eager, compiled = (copy.deepcopy(exp.model).eval() for _ in range(2))

    def encode(model):
        t0 = time.perf_counter()
        feats = [encode_images(model, x) for x in sets]
        return feats, time.perf_counter() - t0

    ref, eager_first = encode(eager)
    rec = dict(images=sum(len(x) for x in sets), first_eager_s=eager_first)
    before = dynamo_counts()
    compiled.visual.compile()
    try:
        feats, rec["first_compiled_s"] = encode(compiled)
    except Exception as err:  # noqa: BLE001
        rec["error"] = one_line(err)
        print(f"encoder: torch.compile failed ({rec['error']}); eager only", file=sys.stderr)
        return rec
    rec.update(counts_since(before))
    rec["max_abs_feature_diff"] = max(float((a - b).abs().max()) for a, b in zip(ref, feats))
    rec["max_abs_feature"] = max(float(a.abs().max()) for a in ref)
    timed = {"eager": [], "compiled": []}
    for _ in range(args.repeats):
        timed["eager"].append(encode(eager)[1])
        timed["compiled"].append(encode(compiled)[1])
    if args.repeats:
        rec["median_s"] = {k: statistics.median(v) for k, v in timed.items()}
    return rec


def summarise(report: dict) -> list[str]:
    """The printed summary: per target, the findings, then the timings (wall seconds at the recorded load)."""
    lines = [
        f"load average before: {report['load_average_before'][0]:.1f} on {os.cpu_count()} cores"
    ]
    for target in ("step", "encoder"):
        if not report.get(target):
            continue
        cold, warm = report[target]["cold"], report[target]["warm"]
        recs = warm["result"] if target == "step" else {"encoder": warm["result"]}
        colds = cold["result"] if target == "step" else {"encoder": cold["result"]}
        for name, rec in recs.items():
            if "error" in rec:
                lines.append(f"{target} {name}: BREAKS: {rec['error']}")
                continue
            keep = ("metric_diff", "max_abs_weight_diff", "max_abs_feature_diff", "graph_breaks")
            found = {k: rec[k] for k in keep if k in rec}
            first = {k: rec[k] for k in rec if k.startswith("first")}
            lines.append(f"{target} {name}: {found}")
            lines.append(
                f"  first runs (warm process): {first}; cold: {colds.get(name, {}).get('first_compiled') or colds.get(name, {}).get('first_compiled_s')}"
            )
            lines.append(f"  medians: {rec.get('median') or rec.get('median_s')}")
        lines.append(
            f"{target}: whole process cold {cold['process_s']:.0f} s, warm {warm['process_s']:.0f} s"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--targets", nargs="+", default=["step", "encoder"], choices=["step", "encoder"]
    )
    ap.add_argument("--methods", nargs="*", default=None, help="default: every registered method")
    ap.add_argument("--forget", nargs="+", default=["Samoyed"])
    ap.add_argument("--steps", type=int, default=48)
    ap.add_argument(
        "--repeats", type=int, default=5, help="interleaved timed runs in the warm process"
    )
    ap.add_argument("--scope", default="in_domain", choices=["in_domain", "all"])
    ap.add_argument("--eval-per-class", type=int, default=None, help="test images per breed (all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None, help="where to write the report")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        result = (step_child if args.child == "step" else encoder_child)(args)
        print(MARK + json.dumps(result), flush=True)
        return

    from kt_lib.cachefile import cache_dir

    folder = cache_dir() / "inductor" / "compile_check"
    shutil.rmtree(folder, ignore_errors=True)
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(folder))
    report = dict(
        command=" ".join(["python", "benchmarks/compile_check.py", *sys.argv[1:]]),
        machine=dict(
            platform=platform.platform(),
            processor=platform.processor() or platform.machine(),
            cores=os.cpu_count(),
            threads=args.threads,
        ),
        torch=torch.__version__,
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        inductor_cache=str(folder),
        settings=dict(vars(args)),
        load_average_before=os.getloadavg(),
    )
    del report["settings"]["child"], report["settings"]["json"]
    passthrough = [a for a in sys.argv[1:] if a not in ("--json", args.json)]
    for target in args.targets:
        report[target] = {}
        for phase in ("cold", "warm"):
            extra = ["--repeats", "0"] if phase == "cold" else []
            cmd = [sys.executable, __file__, *passthrough, *extra, "--child", target]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            found = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
            if proc.returncode or not found:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
                raise SystemExit(f"{target} ({phase}) process failed:\n" + "\n".join(tail))
            result = json.loads(found[-1][len(MARK) :])
            report[target][phase] = dict(process_s=seconds, result=result)
            print(f"{target} ({phase} process) done in {seconds:.0f} s", flush=True)
            report["load_average_after"] = os.getloadavg()
            if args.json:  # after every process: a long run that is stopped keeps what it measured
                Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    print("\n".join(summarise(report)))


if __name__ == "__main__":
    main()
