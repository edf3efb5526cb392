"""Loading a large CSV: wall time and peak memory of ``read_csv``, each in a fresh process.

    .venv/bin/python -m bench.csv_load [--mb 200] [--features 10] [--keep FILE]

The table has ``--features`` float columns and a text label column (4 classes), like a
spreadsheet export; it is written once to a temporary folder (or ``--keep FILE``). The loader runs
in a child process so its peak RSS is its own. Bar (issue 13): a 200 MB CSV loads in < 1 GB RSS.
The last line reads ``csv_load mb=… rows=… seconds=… cpu_seconds=… peak_rss_mb=…`` (CPU
seconds are the better figure when other programs load the cores).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, resource, sys, time
from engine.data import read_csv
t, c = time.perf_counter(), time.process_time()
x, y, info = read_csv(sys.argv[1], label="label")
print(json.dumps({"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c,
                  "rows": len(x),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_csv(path: Path, megabytes: float, features: int) -> None:
    import numpy as np
    rng = np.random.default_rng(0)
    names = ",".join(f"f{j}" for j in range(features)) + ",label\n"
    labels = np.array(["cat", "dog", "bird", "fish"])
    with open(path, "w") as f:
        f.write(names)
        while f.tell() < megabytes * 1e6:
            x = rng.standard_normal((20000, features))
            lab = labels[rng.integers(0, 4, 20000)]
            body = "\n".join(",".join(f"{v:.5f}" for v in row) + "," + k
                             for row, k in zip(x, lab))
            f.write(body + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--features", type=int, default=10)
    ap.add_argument("--keep")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "big.csv"
        if not path.exists():
            write_csv(path, args.mb, args.features)
        run = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True,
                             text=True, cwd=ROOT, check=False)
        if run.returncode:
            print(run.stderr[-2000:], file=sys.stderr)
            return 1
        res = json.loads(run.stdout.strip().splitlines()[-1])
        size = path.stat().st_size / 1e6
    print(f"csv_load mb={size:.0f} rows={res['rows']} seconds={res['seconds']:.1f} "
          f"cpu_seconds={res['cpu_seconds']:.1f} peak_rss_mb={res['peak_rss_mb']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
