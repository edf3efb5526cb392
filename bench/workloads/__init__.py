"""Benchmark workloads: each module trains one model on the engine and on its PyTorch and Keras
twins, and offers ``main_results(epochs, peers) -> {framework: samples/s}`` and
``train_for_memory()``. bench/throughput.py, bench/under_load.py and bench/memory.py read these
lists."""

SEED = ("mlp", "cnn", "lstm")
# Models beyond the seed shapes (issue 16: every kind of model fast).
MODELS = ("cifar_cnn", "cnn150", "resblock", "conv1d_text", "gru", "simple_rnn",
          "conv_transpose")
ALL = SEED + MODELS
