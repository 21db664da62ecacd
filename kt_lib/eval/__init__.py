"""Measuring what a model knows: the before/after evaluator (`evaluator`) the experiment scores runs with, and
the analyses that take an experiment and its runs: the relearning attack (`recovery`, on `attack_sets`), the
knowledge probe (`probe`), what is left of a concept (`residual`) and the collateral damage (`collateral`)."""
