"""Where a run's time goes: the parts of one unlearning step and of one evaluation, timed in one process.

    .venv/bin/python benchmarks/engine_profile.py --out benchmarks/engine_profile.md

On the embedded world model (forget "Samoyed": 30 images, batch 30, 70 prompts of one template): the text
tower's forward+backward over the trimmed context with and without the template's shared words encoded once
(`kt_lib.textenc.shared_prefix`), the image tower's forward+backward, a whole `unlearn_step`, and the
in-domain evaluation's parts (image features of the 2240 photo test images, the zero-shot heads). Variants
take turns (interleaved) and the median of `--repeats` is reported, with the minimum beside it.
"""

import argparse
import copy
import platform
import statistics
import time
from datetime import date

import torch

import kt_lib.textenc as textenc
from kt_lib.experiment import Experiment
from kt_lib.methods import LossConfig
from kt_lib.prompts import PromptBank, reference_logits
from kt_lib.step import set_trainable, unlearn_step
from kt_lib.unlearn import UnlearnConfig, optimizer_and_schedule
from kt_lib.vocab import compact_vocabulary
from kt_lib.zeroshot import encode_images, text_head


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    exp = Experiment(["Samoyed"])
    images, fine, coarse = exp.forget_set.tensors
    names = (exp.data.fine_names, exp.data.coarse_names)
    bank = PromptBank(exp.tokenizer, *names, exp.defaults.templates, "cpu")
    ref = reference_logits(exp.model, images, bank)
    model = copy.deepcopy(exp.model).train()
    params = set_trainable(model, "both")
    compact_vocabulary(model, bank)
    params = [p for p in model.parameters() if p.requires_grad]
    cfg = UnlearnConfig(lr=2e-4)
    opt, _ = optimizer_and_schedule(params, cfg, 48)
    tokens = bank.joint[0]
    prefix = textenc.shared_prefix

    def text(shared: bool):
        textenc.shared_prefix = prefix if shared else (lambda m, t: 0)
        try:
            textenc.encode_text(model, tokens, True).square().sum().backward()
        finally:
            textenc.shared_prefix = prefix

    def step():
        kw = dict(loss_cfg=LossConfig(), reference=(ref[0][0], ref[1][0]))
        unlearn_step(model, opt, images, fine, coarse, lambda m: bank.features(m, 0), **kw)

    photo = exp.evaluator.domains["photo"]
    ev = copy.deepcopy(exp.model).eval()
    parts = {
        "step: text tower fwd+bwd, trimmed context (70 prompts)": lambda: text(False),
        "step: text tower fwd+bwd, shared words once (engine)": lambda: text(True),
        "step: image tower fwd+bwd (30 images)": lambda: (
            model.encode_image(images).sum().backward()
        ),
        "step: whole unlearn_step (nhl_kl, engine)": step,
        "eval: image features, 2240 photo test images": lambda: encode_images(ev, photo.images),
        "eval: zero-shot heads, 56 fine + 14 coarse x 3 templates": lambda: (
            text_head(ev, exp.tokenizer, names[0], photo.templates),
            text_head(ev, exp.tokenizer, names[1], photo.templates),
        ),
    }
    times = {k: [] for k in parts}
    for fn in parts.values():
        fn()  # warm-up
    for _ in range(args.repeats):
        for k, fn in parts.items():
            model.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    lines = [
        f"Produced by `.venv/bin/python benchmarks/engine_profile.py --repeats {args.repeats} --threads "
        f"{args.threads}` on {platform.machine()}, {args.threads} threads, torch {torch.__version__}, "
        f"{date.today()}.",
        "",
        "| part | median ms | min ms |",
        "|---|---|---|",
    ]
    for k, v in times.items():
        lines.append(f"| {k} | {statistics.median(v) * 1e3:.1f} | {min(v) * 1e3:.1f} |")
    text_out = "\n".join(lines) + "\n"
    print(text_out)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text_out)


if __name__ == "__main__":
    main()
