"""The embedded world: a procedurally generated hierarchical image world and the tiny CLIP trained on it.

`config` (taxonomy and looks, plain data), `render` (pixels), `data` (cached image pools and datasets),
`pretrain` (the contrastive pretraining loop), `model` (load-or-train the world model).
"""
