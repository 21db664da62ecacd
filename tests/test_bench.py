"""`kt_harness.bench.bench`: the trainer's fast step computes what the official-style step computes (correctness only;
no timing is asserted), and `kt bench step` / `kt bench eval` write their reports."""

import copy
import json

import open_clip
import pytest
import torch

from kt_harness.bench.bench import time_variants
from kt_harness.bench.step_variants import (
    ABLATION,
    BASELINE,
    OURS,
    build_model,
    fresh_reference_logits,
    make_optimizer,
    make_setup,
    step_loss,
)
from kt_harness.cli import main
from kt_lib.textenc import encode_text
from kt_lib.world.model import MODEL_NAME

STEP_KEYS = {
    "baseline_s",
    "ours_s",
    "ratio",
    "device",
    "tflop_per_step",
    "achieved_tflops",
    "peak_memory_gb",
    "ablation",
    "torch",
    "open_clip",
    "date",
    "flop_count_method",
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These ops are tiny: one thread avoids thread overhead on a shared CPU (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny():
    model, tokenizer = build_model(MODEL_NAME, seed=0)
    return model, make_setup(
        model, tokenizer, MODEL_NAME, batch=3, device=torch.device("cpu"), seed=0
    )


def _loss_and_grads(model, setup, variant):
    """Loss and gradients of one step of `variant`, prepared as the bench prepares it (trainable towers, and
    for `compact_vocab` only the prompts' token-embedding rows); compact gradients come back full-size."""
    model = copy.deepcopy(model).train()
    make_optimizer(model, variant, 1e-3, setup)
    loss = step_loss(model, setup, variant)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    emb = model.token_embedding
    if hasattr(
        emb, "used_ids"
    ):  # CompactTokenEmbedding: scatter its rows into a full-size gradient
        full = torch.zeros_like(emb.frozen)
        full[emb.used_ids] = grads["token_embedding.weight"]
        grads["token_embedding.weight"] = full
    return loss.detach(), grads


@pytest.mark.parametrize("variant", ABLATION[1:], ids=lambda v: v.name.split(" (")[0])
def test_each_fast_step_has_the_same_loss_and_gradients_as_the_plain_step(tiny, variant):
    model, setup = tiny
    loss_plain, grads_plain = _loss_and_grads(model, setup, BASELINE)
    loss_fast, grads_fast = _loss_and_grads(model, setup, variant)
    assert torch.isfinite(loss_plain) and loss_plain.item() != 0
    torch.testing.assert_close(loss_fast, loss_plain, rtol=1e-5, atol=1e-7)
    assert set(grads_fast) == set(grads_plain) and {
        "visual.conv1.weight",
        "token_embedding.weight",
    } <= set(grads_fast)
    assert grads_plain["token_embedding.weight"].abs().sum() > 0
    for (
        name,
        g,
    ) in grads_plain.items():  # atol scaled per tensor: summed gradients (e.g. shared SOT position)
        atol = (
            1e-4 * float(g.abs().max()) + 1e-8
        )  # may cancel to near zero in one summation order only
        torch.testing.assert_close(
            grads_fast[name], g, rtol=1e-4, atol=atol, msg=lambda m, name=name: f"{name}: {m}"
        )


def test_ours_trains_only_the_prompts_token_rows(tiny):
    model, setup = tiny
    model = copy.deepcopy(model)
    opt = make_optimizer(model, OURS, 1e-3, setup)
    n_opt = sum(p.numel() for g in opt.param_groups for p in g["params"])
    used = model.token_embedding.weight.shape[0]
    assert (
        used < 200 < model.token_embedding.num_embeddings
    )  # a few dozen words, not the 49k vocabulary
    assert n_opt == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_cached_reference_logits_equal_a_fresh_reference_forward(tiny):
    _, setup = tiny
    fresh_fine, fresh_coarse = fresh_reference_logits(setup)
    assert setup.ref_fine.shape == fresh_fine.shape == (3, 56) and fresh_coarse.shape == (3, 14)
    torch.testing.assert_close(setup.ref_fine, fresh_fine, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(setup.ref_coarse, fresh_coarse, rtol=1e-4, atol=1e-5)


def test_trimmed_text_features_equal_full_77_token_features():
    """A small CLIP with the standard 77-token context and open_clip's own tokenizer."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = open_clip.model.CLIP(
            32,
            dict(image_size=32, patch_size=16, width=64, layers=1, head_width=32),
            dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=2),
        ).eval()
    tokens = open_clip.get_tokenizer("ViT-B-32")(
        ["a photo of a Samoyed.", "a photo of a German short-haired pointer."]
    )
    assert tokens.shape[1] == 77
    with torch.no_grad():
        full, trimmed = model.encode_text(tokens), encode_text(model, tokens)
    torch.testing.assert_close(trimmed, full, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("interleave", [False, True])
def test_time_variants_reports_one_row_per_variant(tiny, interleave):
    model, setup = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rows = time_variants(model, setup, (OURS,), lr=1e-3, steps=2, warmup=0, interleave=interleave)
    assert (
        [r["name"] for r in rows] == [OURS.name]
        and rows[0]["step_s"] > 0
        and rows[0]["tflop_per_step"] > 0
    )
    assert (
        rows[0]["peak_memory_gb"] is None and rows[0]["autocast"] is False
    )  # CPU: the trainer stays fp32
    assert rows[0]["fused_adam"] and rows[0]["compact_vocab"] and not rows[0]["cuda_graph"]
    assert all(
        torch.equal(before[k], v) for k, v in model.state_dict().items()
    )  # steps ran on a copy


def test_bench_step_cli_writes_the_report(tmp_path, capsys):
    out = tmp_path / "step.json"
    assert (
        main(
            [
                "bench",
                "step",
                "--device",
                "cpu",
                "--batch",
                "2",
                "--steps",
                "1",
                "--warmup",
                "0",
                "--no-ablation",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert STEP_KEYS <= set(report)
    assert report["ratio"] > 0 and report["device"] == "cpu" and report["peak_memory_gb"] is None
    assert [row["name"] for row in report["ablation"]] == [BASELINE.name, OURS.name]
    assert report["text_context_trimmed"] < report["text_context_full"]
    assert report["graph_s"] is None and report["graph_ratio"] is None  # CPU: no CUDA-graph row
    assert "ratio" in capsys.readouterr().out


def test_bench_scaling_and_profile_cli(tmp_path, capsys):
    out = tmp_path / "scaling.json"
    assert (
        main(
            [
                "bench",
                "scaling",
                "--device",
                "cpu",
                "--batches",
                "1",
                "2",
                "--steps",
                "1",
                "--warmup",
                "0",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert [r["batch"] for r in report["rows"]] == [1, 2] and all(
        r["images_per_s"] > 0 for r in report["rows"]
    )
    table = tmp_path / "profile.txt"
    assert (
        main(
            [
                "bench",
                "profile",
                "--device",
                "cpu",
                "--batch",
                "2",
                "--steps",
                "1",
                "--out",
                str(table),
            ]
        )
        == 0
    )
    text = table.read_text()
    assert "aten::" in text and "Self CPU" in text
    assert main(["bench", "scaling", "--device", "cpu", "--batches", "0"]) == 2
    assert "positive" in capsys.readouterr().err


def test_bench_eval_cli_writes_the_report(tmp_path):
    out = tmp_path / "eval.json"
    assert (
        main(
            [
                "bench",
                "eval",
                "--device",
                "cpu",
                "--images",
                "8",
                "--batch",
                "4",
                "--repeats",
                "1",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    for key in ("end_to_end_images_per_s", "encode_images_per_s", "cache_images_per_s"):
        assert report[key] > 0
    assert report["ratio_cache_over_encode"] > 0 and report["max_abs_feature_diff"] < 1e-5


def test_bench_rejects_unknown_models_and_bad_settings(capsys):
    assert main(["bench", "step", "--model", "ViT-L-15"]) == 2
    assert "ViT-L-14" in capsys.readouterr().err
    assert main(["bench", "step", "--device", "cpu", "--steps", "0"]) == 2
    assert "steps" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_graph_step_says_what_to_do_without_a_gpu():
    from kt_harness.bench.cudagraph import GraphedStep

    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=1e-3)
    with pytest.raises(RuntimeError, match="eager step"):
        GraphedStep(lambda: torch.zeros(()), opt)


def test_ours_is_the_trainers_unlearn_step(tiny, monkeypatch):
    """`kt bench step` times the trainer's own step function, not a rebuilt copy of it."""
    import kt_harness.bench.step_variants as SV

    model, setup = tiny
    calls = []
    real = SV.unlearn_step
    monkeypatch.setattr(SV, "unlearn_step", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    model = copy.deepcopy(model).train()
    opt = make_optimizer(model, OURS, 1e-3, setup)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    SV.train_step(model, opt, setup, OURS)
    SV.train_step(model, opt, setup, BASELINE)
    assert calls == [1]  # ours only
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


RUN_KEYS = {
    "baseline_s",
    "ours_s",
    "ours_in_domain_s",
    "ratio",
    "ratio_in_domain",
    "gflop_per_run",
    "ours_in_domain_gflop_per_run",
    "baseline_gflop_per_run",
    "achieved_gflops",
    "baseline_achieved_gflops",
    "variants",
    "flop_count_method",
    "text_context_full",
    "text_context_trimmed",
    "device",
    "device_name",
    "torch",
    "cpu_threads",
    "date",
}


def test_bench_run_cli_times_the_engine_against_the_official_style_run(tmp_path, capsys):
    out = tmp_path / "run.json"
    args = ["bench", "run", "--device", "cpu", "--repeats", "1", "--steps", "2"]
    assert main([*args, "--eval-per-class", "1", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert RUN_KEYS <= set(r) and r["forget"] == ["Samoyed"] and r["num_steps"] == 2
    assert r["ratio"] == pytest.approx(r["baseline_s"] / r["ours_s"], abs=1e-3)
    assert r["ratio_in_domain"] == pytest.approx(r["baseline_s"] / r["ours_in_domain_s"], abs=1e-3)
    ours, in_domain, base = r["variants"]
    assert [v["name"] for v in r["variants"]] == ["ours", "ours_in_domain", "baseline"]
    for v in r["variants"]:  # one repeat: the run is its setup, training and evaluation
        assert v["train_s"] > 0 and v["setup_s"] >= 0 and v["eval_s"] > 0 and v["steps"] == 2
        assert v["run_s"] == pytest.approx(v["train_s"] + v["setup_s"] + v["eval_s"], abs=1e-3)
    # the same loss on the same first batch, template and weights, computed both ways
    assert ours["method"] == in_domain["method"] == base["method"] == "nhl_kl"
    assert base["loss_first"] == pytest.approx(ours["loss_first"], rel=1e-4)
    # the baseline recomputes the reference every step and encodes the full text context
    assert r["baseline_gflop_per_run"] > r["gflop_per_run"] > r["ours_in_domain_gflop_per_run"] > 0
    assert r["text_context_full"] > r["text_context_trimmed"]
    assert "baseline / ours" in capsys.readouterr().out


def test_each_timed_engine_run_encodes_the_test_images_anew(monkeypatch):
    """The Evaluator caches predictions per weights, and every repetition trains the same weights: the
    bench must drop them, or a repeated run would time a cache hit instead of an evaluation."""
    import kt_lib.eval.evaluator as E
    from kt_harness.bench.bench_run import TimedExperiment, run_ours

    exp = TimedExperiment(["Samoyed"], device="cpu", eval_per_class=1)
    exp.before  # noqa: B018
    encoded, real = [], E.encode_images
    monkeypatch.setattr(
        E, "encode_images", lambda m, x, *a: encoded.append(len(x)) or real(m, x, *a)
    )
    for _ in range(2):
        encoded.clear()
        r = run_ours(exp, "nhl_kl", "in_domain", {"num_steps": 1})
        assert encoded == [len(exp.evaluator.domains["photo"].images)] and r["eval_s"] > 0


def test_bench_run_rejects_bad_settings_before_loading(capsys):
    assert main(["bench", "run", "--device", "cpu", "--repeats", "0"]) == 2
    assert "repeats" in capsys.readouterr().err
    assert main(["bench", "run", "--device", "cpu", "--method", "projection"]) == 2
    assert "loss methods" in capsys.readouterr().err


def test_benchmarks_readme_quotes_the_recorded_run_engine_figures():
    """The figures under 'Recorded: the run engine' come from benchmarks/cpu_run.json and
    engine_vs_previous.json, not from memory."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "benchmarks"
    text = (root / "README.md").read_text().split("### Recorded: the run engine", 1)[1]
    run = json.loads((root / "cpu_run.json").read_text())
    rows = {v["name"]: v for v in run["variants"]}
    for name in ("ours", "ours_in_domain", "baseline"):
        v = rows[name]
        assert f"| {v['run_s']:.2f} | {v['train_s']:.2f} | {v['eval_s']:.2f} |" in text, name
    assert f"{run['ratio']:.2f}x (scope all), {run['ratio_in_domain']:.2f}x" in text
    prev = json.loads((root / "engine_vs_previous.json").read_text())
    total, train = prev["median_total_s"], prev["median_train_s"]
    assert f"{total['new']:.2f} s (median of 4) against {total['previous']:.2f} s" in text
    assert f"{total['ratio']:.2f}x" in text and f"{train['ratio']:.2f}x" in text


def test_compile_record_quotes_its_json():
    """benchmarks/compile_check.md's figures are the recorded run's (compile_check.json, compile_methods.json)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "benchmarks"
    text = (root / "compile_check.md").read_text()
    t = json.loads((root / "compile_check.json").read_text())
    warm, cold = (t["step"][p]["result"]["nhl_kl"] for p in ("warm", "cold"))
    enc, enc_cold = t["encoder"]["warm"]["result"], t["encoder"]["cold"]["result"]
    med = warm["median"]
    quoted = [
        f"{med['eager']['step_s'] * 1e3:.1f} ms | {med['compiled']['step_s'] * 1e3:.1f} ms",
        f"{med['eager']['run_s']:.2f} s | {med['compiled']['run_s']:.2f} s",
        f"{warm['first_eager']['run_s']:.2f} s | {cold['first_compiled']['run_s']:.1f} s",
        f"{warm['first_compiled']['run_s']:.2f} s",
        f"{enc['median_s']['eager']:.3f} s | {enc['median_s']['compiled']:.3f} s",
        f"{enc_cold['first_compiled_s']:.1f} s / {enc['first_compiled_s']:.2f} s",
        f"saves {med['eager']['run_s'] - med['compiled']['run_s']:.2f} s",
    ]
    for q in quoted:
        assert q in text, q
    saved = 1 - med["compiled"]["run_s"] / med["eager"]["run_s"]
    load = warm["first_compiled"]["run_s"] - warm["first_eager"]["run_s"]
    first = cold["first_compiled"]["run_s"] - warm["first_eager"]["run_s"]
    summary = f"{saved:.0%} a run, against {first:.0f} s for the\nfirst compile and {load:.1f} s to load it"
    assert summary in (root / "README.md").read_text()
    assert f"pays {first:.0f} s" in text and f"then\n  {load:.1f} s per fresh process" in text
    methods = json.loads((root / "compile_methods.json").read_text())["step"]["warm"]["result"]
    assert len(methods) == 11 and all(r["graph_breaks"] == 0 for r in methods.values())
    worst = max(abs(r["metric_diff"]["U"]) for r in methods.values())
    assert (
        f"U within {worst:.4f}" in text
        and max(abs(r["metric_diff"]["Q"]) for r in methods.values()) == 0
    )


def test_readme_audit_figures_come_from_audit_md():
    """Every number in the README's auditor section is in benchmarks/audit.md (the recorded run)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    section = readme.split("## How would an auditor check?", 1)[1].split("\n## ", 1)[0]
    recorded = (root / "benchmarks" / "audit.md").read_text()
    numbers = set(re.findall(r"\d+\.\d+", section))
    assert numbers >= {"0.501", "0.598", "0.438", "0.535", "0.95", "1.00"}
    assert all(n in recorded for n in numbers), sorted(n for n in numbers if n not in recorded)
    assert "60 of the 60 planned" in recorded and "n = 200" in recorded and "60 runs" in section
    for method, leaks in (("nhl_kl", "2 of 12"), ("npo_kl", "2 of 12"), ("projection", "4 of 12")):
        assert f"{method}: {leaks}" in recorded  # the counts the section quotes
