"""The benchmarks' own small library: every `bench/*.py` imports from here, never from another benchmark.

- `benchlib.report`: machine line, interleaved timing, small tables, results JSON, the HEADLINE line, work folders.
- `benchlib.data`: the benchmark data sets (digits, Fashion-MNIST, the CIFAR-10 subset; a line when absent), CIFAR
  images or noise for the speed benchmarks, raw-pixel features, synthetic clustered features.
- `benchlib.metrics`: 10-NN purity, 1-shot kNN and NMI rows, the prior's accuracy and ECE, means, the label-free
  confidence estimate benchmark 16 measures (removed from the package, issue #30).
- `benchlib.runs`: configs resolved for the images, stage 1 once, stages 2-4 on given features, FlexMatch from
  scratch, SimSiam stopped after n steps, the label-efficiency runs of benchmarks 1 and 2.

Only `report` is imported at a benchmark's top; the others import as3l inside their functions, so `--help` and the
import check in tests/test_bench.py stay fast. No private as3l name is used: the few lines needed are written here.
"""
import os

os.environ.setdefault('CI', '1')   # as3l.core.progress: no bars in benchmark output
