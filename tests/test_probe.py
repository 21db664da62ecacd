import torch

from kt_lib.eval.probe import fit_linear_probe, knowledge_probe


def test_linear_probe_separates_separable_features():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 8, generator=g) * 3
    labels = torch.arange(4).repeat_interleave(20)
    feats = centers[labels] + torch.randn(80, 8, generator=g) * 0.3
    head = fit_linear_probe(feats, labels, 4)
    assert (head(feats).argmax(-1) == labels).float().mean() > 0.95


def test_text_only_unlearning_leaves_image_knowledge_that_the_probe_finds(world_model):
    """The study's teaching point: zero-shot forgetting can live in the text tower alone."""
    from kt_lib.experiment import Experiment

    model, tokenizer, _ = world_model
    exp = Experiment(["Samoyed", "vizsla"], model, tokenizer, eval_per_class=20)
    result = exp.unlearn("nhl_kl", towers="text")
    table = knowledge_probe(exp, result.model)
    zs = table.loc["zero-shot (training prompts)"]
    probe = table.loc["linear probe on image features"]
    assert zs[("forget", "after")] < 0.2 * zs[("forget", "before")]
    assert probe[("forget", "after")] == probe[("forget", "before")]  # image features untouched
    assert probe[("forget", "after")] > 0.7
