"""Active Self-Semi-Supervised Learning (AS3L): which few samples to label, and how to train with them

Modules:

- `as3l.flexmatch`: Stage 4 of AS3L (Sec. 3.4, Eq. 2-5): FlexMatch/FixMatch semi-supervised training whose pseudo-labels are bootstrapped by the prior pseudo-labels of stage 3, with EMA evaluation, exact resume and DDP."""

__version__ = "0.1.0"
