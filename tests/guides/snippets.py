"""keras.io guides as runnable snippets: a guide is split at its prose (the module-level
strings between code), and the snippets run one after the other in one namespace, as a
reader runs the guide. Used by the tests with the engine and by ``run_real_keras_guides.py``
with real Keras, so it imports neither (only numpy and the standard library).

The data sets a guide loads are replaced by small ones of the same kind and dtype (CI has no
network, and the guides' sizes are for a GPU): MNIST by 6,000 + 1,000 real digits from
LayerLoom's bundled subset, CIFAR-10 by 1,200 + 200 random images.
"""
from __future__ import annotations

import ast
import contextlib
import io
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
GUIDES = HERE / "keras_io"
NAMES = ("sequential_model", "functional_api", "training_with_built_in_methods",
         "writing_your_own_callbacks", "serialization_and_saving",
         "understanding_masking_and_padding", "making_new_layers_and_models_via_subclassing")
MNIST = HERE.parents[1] / "resources" / "data" / "mnist_subset.npz"
SIZES = {"mnist": (6000, 1000), "cifar10": (1200, 200)}


@dataclass
class Snippet:
    index: int            # 1-based, in the guide's order
    line: int             # first line in the guide file
    code: str

    @property
    def title(self) -> str:
        for text in self.code.splitlines():
            text = text.strip()
            if text and not text.startswith("#"):
                return text[:60]
        return ""


def split(path: Path) -> list[Snippet]:
    """The code between the guide's prose strings, one snippet per stretch of code."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    out: list[Snippet] = []
    start = None          # first line (1-based) of the code stretch being collected
    end = 0
    for stmt in ast.parse(text).body:
        prose = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and \
            isinstance(stmt.value.value, str)
        if prose:
            if start is not None:
                out.append(Snippet(len(out) + 1, start, "".join(lines[start - 1:end])))
                start = None
            end = stmt.end_lineno
            continue
        if start is None:
            start = end + 1       # comments just after the prose belong to the code
        end = stmt.end_lineno
    if start is not None:
        out.append(Snippet(len(out) + 1, start, "".join(lines[start - 1:end])))
    return out


def small_datasets() -> dict[str, tuple]:
    """The stand-ins for ``mnist.load_data()`` and ``cifar10.load_data()``."""
    with np.load(MNIST, allow_pickle=False) as d:
        n, m = SIZES["mnist"]
        mnist = ((d["x_train"][:n], d["y_train"][:n]), (d["x_test"][:m], d["y_test"][:m]))
    rng = np.random.default_rng(0)
    n, m = SIZES["cifar10"]
    cifar = ((rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
              rng.integers(0, 10, (n, 1), dtype=np.uint8)),
             (rng.integers(0, 256, (m, 32, 32, 3), dtype=np.uint8),
              rng.integers(0, 10, (m, 1), dtype=np.uint8)))
    return {"mnist": mnist, "cifar10": cifar}


def install_small_datasets(keras_module) -> None:
    """Point ``keras.datasets.mnist/cifar10.load_data`` at the small stand-ins."""
    data = small_datasets()
    for name, arrays in data.items():
        module = getattr(keras_module.datasets, name)
        module.load_data = lambda *args, _a=arrays, **kwargs: _a


@dataclass
class Outcome:
    ok: bool
    error: str = ""            # the exception, one line
    where: str = ""            # the guide line it came from


@dataclass
class GuideRun:
    """One guide run in order in its own namespace and working folder; ``outcome(i)`` runs
    the snippets up to ``i`` first (so a single test can run on its own)."""
    name: str
    workdir: Path
    namespace: dict = field(default_factory=lambda: {"__name__": "__guide__"})
    outcomes: dict = field(default_factory=dict)

    def __post_init__(self):
        self.path = GUIDES / f"{self.name}.py"
        self.snippets = split(self.path)

    def outcome(self, index: int) -> Outcome:
        for s in self.snippets[:index]:
            if s.index not in self.outcomes:
                self.outcomes[s.index] = self._run(s)
        return self.outcomes[index]

    def _run(self, snippet: Snippet) -> Outcome:
        code = compile("\n" * (snippet.line - 1) + snippet.code, str(self.path), "exec")
        cwd = os.getcwd()
        os.chdir(self.workdir)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(code, self.namespace)  # noqa: S102  (the guide's own code)
            return Outcome(True)
        except BaseException as e:          # the guide's own code: anything may go wrong
            if isinstance(e, KeyboardInterrupt):
                raise
            frames = [f for f in traceback.extract_tb(e.__traceback__)
                      if f.filename == str(self.path)]
            where = f"line {frames[-1].lineno}: {frames[-1].line}" if frames else ""
            return Outcome(False, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                           [:400], where)
        finally:
            os.chdir(cwd)
