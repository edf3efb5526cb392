"""Runs the keras.io guide snippets under real Keras 3, to know which ones real Keras runs on
this machine (the denominator of the guide tests). Run with a Keras 3 interpreter:

    /work/venv-keras/bin/python tests/guides/run_real_keras_guides.py

The guides are LayerLoom's copies (tests/guides/keras_io/) with ``engine`` swapped back for
``keras``; TensorFlow is imported into each guide's namespace as the original's ``tf`` (torch
is not installed beside Keras here, so the DataLoader snippets do not run). Writes
``real_keras_results.json``: per guide, per snippet, whether it ran and the error if not.
"""
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import keras

from tests.guides import snippets


class RealKerasRun(snippets.GuideRun):
    def __post_init__(self):
        super().__post_init__()
        for s in self.snippets:
            s.code = s.code.replace("import engine as keras", "import keras").replace(
                "from engine import", "from keras import")
        try:
            import tensorflow as tf
            self.namespace["tf"] = tf
        except ImportError:
            pass


def main():
    snippets.install_small_datasets(keras)
    results = {"keras_version": keras.__version__, "backend": keras.backend.backend(),
               "guides": {}}
    for name in snippets.NAMES:
        with tempfile.TemporaryDirectory() as tmp:
            run = RealKerasRun(name, Path(tmp))
            per = {}
            for s in run.snippets:
                o = run.outcome(s.index)
                per[str(s.index)] = {"ok": o.ok, "line": s.line, "title": s.title,
                                     "error": o.error}
                print(name, s.index, "ok" if o.ok else f"FAIL {o.error[:100]}", flush=True)
            results["guides"][name] = per
    out = Path(__file__).resolve().parent / "real_keras_results.json"
    out.write_text(json.dumps(results, indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()
