"""The seed MNIST MLP trained on Keras 3 (JAX, CPU) on 1 device and data-parallel on 2 (the CPU
split by XLA_FLAGS=--xla_force_host_platform_device_count=2), and on LayerLoom's engine, from
the same initial weights: test accuracy and wall time of each. Needs the [keras] extra.

    python -m bench.keras_devices [--epochs 5]

On a CPU both "devices" share the same cores, so 2 devices are not faster here; the point is
that data-parallel training reaches the accuracy of one device.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = r"""
import json, sys, time
from engine.data import DataSource
from engine.keras_backend.fit import fit
from engine.keras_backend.probe import probe
from engine.project import load_project
p = load_project(sys.argv[1])
t = p.training
t.epochs, t.seed = int(sys.argv[2]), 1
model0 = p.build_model()
start = model0.get_weights()
data = DataSource.from_dict(p.data_source).load()
out = {"keras": probe().describe()}
for where in ("engine", "keras-1", "keras-2"):
    model = p.build_model()
    model.set_weights(start)
    model.compile(**t.compile_args())
    t0 = time.perf_counter()
    kw = dict(batch_size=t.batch_size, epochs=t.epochs, validation_split=t.validation_split,
              verbose=0, seed=t.seed)
    if where == "engine":
        model.fit(data.x_train, data.y_train, **kw)
    else:
        fit(model, data.x_train, data.y_train, devices=int(where[-1]), **kw)
    seconds = time.perf_counter() - t0
    acc = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)["accuracy"]
    out[where] = {"test_accuracy": round(acc, 4), "seconds": round(seconds, 1)}
print("RESULT " + json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    env = {**os.environ, "KERAS_BACKEND": "jax",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "examples" / "mnist_mlp.loom"),
                          str(args.epochs)], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=False)
    if run.returncode:
        sys.exit(run.stderr[-3000:])
    result = json.loads(next(s for s in run.stdout.splitlines()
                             if s.startswith("RESULT ")).removeprefix("RESULT "))
    print(f"seed MNIST MLP, {args.epochs} epochs, {result.pop('keras')}")
    for where, r in result.items():
        print(f"  {where:9s} test accuracy {r['test_accuracy']:.4f}   {r['seconds']:7.1f} s")


if __name__ == "__main__":
    main()
