"""kt_harness: what runs kt_lib, apart from the library a learner reads (as open_clip_train is to open_clip).

- `kt_harness.cli`: the `kt` command (`python -m kt_harness`), one module per subcommand;
- `kt_harness.sweep`: `kt sweep`, grids of runs over YAML configs, locally or on Ray;
- `kt_harness.bench`: `kt bench`, step and run timings against the official-style baseline;
- `kt_harness.reproduce`: `kt reproduce`, the paper's tables from a preset.

Imports run one way: kt_harness imports kt_lib, never the reverse (tests/test_layers.py).
"""
