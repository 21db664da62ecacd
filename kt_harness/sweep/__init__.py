"""Sweeps past one machine: `kt sweep CONFIG` runs a YAML-described grid of unlearning trials in process
(`--backend local`) or on Ray (`--backend ray`), resumably, writing one row per trial (docs/sweeps.md).

    from kt_harness.sweep import run_sweep, load_results
    run_sweep("sweeps/smoke.yaml", "outputs/sweeps/smoke")          # local backend
    runs = load_results("outputs/sweeps/smoke", ok_only=True)       # tidy DataFrame, e.g. for notebook 06
"""

from kt_harness.sweep.config import ConfigError, SweepConfig, load_config, parse_config
from kt_harness.sweep.runner import SweepOutcome, plan, run_sweep
from kt_harness.sweep.spec import TrialSpec, expand
from kt_harness.sweep.store import load_results
from kt_harness.sweep.trial import run_trial

__all__ = ["ConfigError", "SweepConfig", "SweepOutcome", "TrialSpec", "expand", "load_config"]
__all__ += ["load_results", "parse_config", "plan", "run_sweep", "run_trial"]
