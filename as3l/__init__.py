"""Active Self-Semi-Supervised Learning (AS3L): which few samples to label, and how to train with them

Modules:

- `as3l.active`: Stage 2 (paper Sec. 3.2): which few samples to label. The AS3L single-shot strategy (fine-tuned features + multi-clustering) and the baselines it is compared with, scored by class coverage.
- `as3l.cli`: `as3l run` for the built-in data sets; `as3l select` and `as3l train` for one's own images, with an expert in the loop.
- `as3l.flexmatch`: Stage 4 of AS3L (Sec. 3.4, Eq. 2-5): FlexMatch/FixMatch semi-supervised training whose pseudo-labels are bootstrapped by the prior pseudo-labels of stage 3, with EMA evaluation, exact resume and DDP.
- `as3l.pipeline`: `run_as3l(cfg)`: the four stages composed, each stage's artifact saved in the run folder and reused when the config that produced it has not changed."""

__version__ = "0.1.0"
