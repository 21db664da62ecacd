"""kt_lib: knowledge-tracing machine unlearning for CLIP (Tan & Gong, arXiv 2506.11253).

What a learner needs is here, by name (the notebooks import nothing else from kt_lib): starting a notebook
(`setup`, `record`, `show`); the subject (`unlearn_step`, one step of `kt_lib.unlearn.unlearn`,
`UnlearnConfig`, `losses`, `methods`); experiments (`Experiment`, `table`, `leaderboard`,
`difficulty_levels`, `knowledge_probe`, `recovery`, `collateral`, `integrity`, `audits`); the world and the
knowledge (`load_model`, `get_device`, `world_model`, `WorldConfig`, `WorldTaxonomy`, `WorldDataset`,
`Taxonomy`, `wordnet`); figures and panels (`plots`, `widgets`). Each name imports on first use, so
importing kt_lib loads no torch.
"""

__version__ = "0.1.0"

# name -> (module, attribute); attribute None: the module itself
_LAZY = {
    "setup": ("kt_lib.notebook.setup", "setup"),
    "record": ("kt_lib.notebook.record", "record"),
    "show": ("kt_lib.notebook.record", "show"),
    "unlearn_step": ("kt_lib.step", "unlearn_step"),
    "UnlearnConfig": ("kt_lib.unlearn", "UnlearnConfig"),
    "losses": ("kt_lib.losses", None),
    "methods": ("kt_lib.methods", None),
    "Experiment": ("kt_lib.experiment", "Experiment"),
    "table": ("kt_lib.experiment", "table"),
    "leaderboard": ("kt_lib.notebook.leaderboard", None),
    "difficulty_levels": ("kt_lib.eval.evaluator", "difficulty_levels"),
    "knowledge_probe": ("kt_lib.eval.probe", "knowledge_probe"),
    "recovery": ("kt_lib.eval.recovery", None),
    "collateral": ("kt_lib.eval.collateral", None),
    "integrity": ("kt_lib.integrity", None),
    "audits": ("kt_lib.notebook.audits", None),
    "load_model": ("kt_lib.models", "load_model"),
    "get_device": ("kt_lib.models", "get_device"),
    "world_model": ("kt_lib.world.model", "world_model"),
    "WorldConfig": ("kt_lib.world.config", "WorldConfig"),
    "WorldTaxonomy": ("kt_lib.world.config", "WorldTaxonomy"),
    "WorldDataset": ("kt_lib.world.data", "WorldDataset"),
    "Taxonomy": ("kt_lib.knowledge.taxonomy", "Taxonomy"),
    "wordnet": ("kt_lib.knowledge.wordnet", None),
    "plots": ("kt_lib.notebook.plots", None),
    "widgets": ("kt_lib.notebook.widgets", None),
}
__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    import difflib
    import importlib

    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        return mod if attr is None else getattr(mod, attr)
    near = difflib.get_close_matches(name, __all__, n=3, cutoff=0.6)
    hint = (
        f"did you mean {', '.join(near)}?" if near else "the learner API is: " + ", ".join(__all__)
    )
    raise AttributeError(f"module 'kt_lib' has no attribute {name!r}; {hint}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
