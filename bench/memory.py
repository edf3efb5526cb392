"""Peak resident memory of training a seed workload, each in a fresh process.

    python -m bench.memory [mlp] [cnn] [lstm]

Prints ``memory <workload> peak_rss_mb=…`` per workload (ru_maxrss of the child process, which
includes the interpreter, numpy/numba and the data).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import resource, sys
sys.path.insert(0, {root!r})
import importlib
mod = importlib.import_module("bench.workloads." + {name!r})
mod.train_for_memory()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def main(argv=None) -> None:
    names = (argv if argv is not None else sys.argv[1:]) or ["mlp", "cnn", "lstm"]
    for name in names:
        out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), name=name)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(f"memory {name}: failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        print(f"memory {name} peak_rss_mb={float(out.stdout.split()[-1]):.0f}")


if __name__ == "__main__":
    main()
