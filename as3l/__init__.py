"""Active Self-Semi-Supervised Learning (AS3L): which few samples to label, and how to train with them"""

__version__ = "0.1.0"
