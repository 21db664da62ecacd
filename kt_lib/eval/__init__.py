"""Measuring what a model knows: zero-shot heads (`zeroshot`), the before/after evaluator (`evaluator`) and
the linear knowledge probe (`probe`)."""
