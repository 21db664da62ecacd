"""kt_lib: knowledge-tracing machine unlearning for CLIP (Tan & Gong, arXiv 2506.11253).

Heavy imports (torch, open_clip) happen on first use: `kt_lib.load_model` etc. resolve lazily.
"""

__version__ = "0.1.0"

_LAZY = {
    "load_model": "models",
    "get_device": "models",
    "WorldConfig": "world",
    "WorldTaxonomy": "world",
    "Experiment": "experiment",
    "UnlearnConfig": "unlearn",
    "unlearn": "unlearn",
    "Taxonomy": "taxonomy",
}
__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"kt_lib.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'kt_lib' has no attribute {name!r}")
