"""The seed tutorial scripts in examples/ run as users run them and learn what Keras learns."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str, timeout: float = 300) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "examples" / name)], capture_output=True,
                         text=True, timeout=timeout, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_mnist_mlp_reaches_keras_accuracy():
    """Seed MLP, 5 epochs on the bundled real MNIST (Keras 3.15 gets 96.3-96.4% here)."""
    text = run_example("mnist_mlp.py")
    acc = float(re.search(r"test accuracy ([0-9.]+)", text).group(1))
    assert acc >= 0.95, text[-2000:]


def test_mnist_cnn_reaches_keras_accuracy():
    """Seed CNN, 3 epochs on 24,000 real MNIST images (Keras 3.15: 96.4-96.8% on the 10k test)."""
    text = run_example("mnist_cnn.py")
    acc = float(re.search(r"test accuracy ([0-9.]+)", text).group(1))
    assert acc >= 0.96, text[-2000:]


def test_cifar10_cnn_runs_and_says_which_data(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "cifar10_cnn.py"), "--epochs",
                          "1", "--limit", "300"], capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"data: (CIFAR-10|random stand-in data); test accuracy [0-9.]+", out.stdout)
