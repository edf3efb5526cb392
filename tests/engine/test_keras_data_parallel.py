"""Data-parallel training on Keras (JAX on the CPU split into 2 devices, in a subprocess since
XLA's device count is fixed when JAX starts): the seed MNIST MLP trained through
``layerloom-cli train --backend keras --devices N`` reaches the same test accuracy on 2
devices as on 1 (within 1 point), from the same initial weights."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = r"""
import json, sys
from engine.cli import main
from engine.data import DataSource
from engine.project import load_project, save_project
start, folder = sys.argv[1], sys.argv[2]
p = load_project(start)
p.training.epochs, p.training.seed = 1, 1
p.store_weights(p.build_model())            # both runs start from these weights
save_project(p, f"{folder}/start.loom")
data = DataSource.from_dict(p.data_source).load()
out = {}
for n in (1, 2):
    path = f"{folder}/d{n}.loom"
    assert main(["train", f"{folder}/start.loom", "--backend", "keras", "--devices", str(n),
                 "--out", path]) == 0
    q = load_project(path)
    model = q.build_model()
    model.compile(**q.training.compile_args())
    acc = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)["accuracy"]
    run = q.runs[-1]
    out[n] = {"accuracy": acc, "backend": run.backend, "devices": run.devices}
print("RESULT " + json.dumps(out))
"""


@pytest.mark.skipif(importlib.util.find_spec("keras") is None or
                    importlib.util.find_spec("jax") is None,
                    reason="the [keras] extra (keras, jax) is not installed")
def test_two_cpu_devices_reach_the_accuracy_of_one(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "jax",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "examples" / "mnist_mlp.loom"),
                          str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=1800, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    line = next(s for s in run.stdout.splitlines() if s.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    one, two = result["1"], result["2"]
    assert (one["backend"], one["devices"], two["devices"]) == ("keras/jax", 1, 2)
    assert one["accuracy"] > 0.9
    assert abs(one["accuracy"] - two["accuracy"]) <= 0.01, result
    assert "data-parallel" in run.stderr or "2 devices" in run.stderr
