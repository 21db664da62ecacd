"""The embedded world and its tiny CLIP: `config` (taxonomy and looks), `render` (pixels), `data` (cached
pools and datasets), `pretrain` (the contrastive loop), `model` (load-or-train the world model)."""
