"""The thread the Try it panel predicts on (Qt-free), so that neither the window nor training
waits for a prediction.

The GUI thread hands over requests — a function that builds the input from a copy of what the
user drew, dropped or typed — and the newest request wins: one still waiting when a newer one
arrives is dropped. Weight snapshots and a rebuilt network are handed over the same way and
loaded between two predictions, so the private model is only ever touched by this thread.
After each prediction the thread rests ``PREDICT_BUDGET`` times as long as it took (at most
``MAX_REST_S``): on a busy machine predictions thin out instead of taking the cores and the
interpreter lock from training. Kernels run on one numba thread here (numba's count is per
calling thread): one sample gains nothing from parallel kernels.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np

from app.training.prediction import Scores, SnapshotModel
from engine.data import DataError

PREDICT_BUDGET = 4          # rest 4× a prediction's time: at most a fifth of a core
MAX_REST_S = 0.5            # one slow prediction (the first, say) delays the next no more


@dataclass
class Request:
    make_input: Callable[[], np.ndarray | None]    # runs on the prediction thread
    class_names: list[str] | None = None
    seq: int = 0                                   # the caller's number, given back


@dataclass
class Result:
    scores: Scores | None
    sample: np.ndarray | None       # what the network was given (for the preview)
    error: str = ""
    loaded: int = 0                 # layers whose weights came from the snapshot
    weighted: int = 0               # layers that have weights
    seconds: float = 0.0            # building the input and the forward pass
    seq: int = -1                   # the request's number (-1: a weights load, no request)


class PredictionService:
    """Predictions on a thread of their own; ``deliver(result)`` is called on that thread."""

    def __init__(self, deliver: Callable[[Result], None]):
        self._deliver = deliver
        self._cond = threading.Condition()
        self._request: Request | None = None
        self._model: SnapshotModel | None = None        # handed over, not yet taken
        self._weights: dict | None = None
        self._weights_new = False
        self._busy = False
        self._closed = False
        self.rests: list[float] = []                   # seconds rested after each prediction
        self._thread = threading.Thread(target=self._run, name="try-it-predictions",
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ from the GUI thread
    def use_model(self, model: SnapshotModel) -> None:
        """Predict with ``model`` from now on (the caller no longer touches it)."""
        with self._cond:
            self._model = model
            self._weights_new = True
            self._cond.notify()

    def set_weights(self, weights: dict | None) -> None:
        with self._cond:
            self._weights = weights
            self._weights_new = True
            self._cond.notify()

    def submit(self, request: Request) -> None:
        with self._cond:
            self._request = request                     # replaces one still waiting
            self._cond.notify()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once nothing is waiting or running (tests, benchmarks)."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._request is not None or self._busy or self._weights_new:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    # ------------------------------------------------------------ the thread
    def _run(self) -> None:
        numba.set_num_threads(1)
        model: SnapshotModel | None = None
        while True:
            with self._cond:
                while not self._closed and self._request is None and not self._weights_new:
                    self._cond.wait()
                if self._closed:
                    return
                if self._model is not None:
                    model, self._model = self._model, None
                load = self._weights_new
                weights, self._weights_new = self._weights, False
                request, self._request = self._request, None
                self._busy = True
            try:
                if load and model is not None:
                    model.load(weights)
                if request is not None and model is not None:
                    self._predict(model, request)
                elif load and model is not None:          # no input yet: report the load
                    self._send(Result(None, None, "", model.loaded, model.weighted_layers))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _send(self, result: Result) -> bool:
        try:
            self._deliver(result)
            return True
        except RuntimeError:            # the panel is gone (the window closed)
            self.close()
            return False

    def _predict(self, model: SnapshotModel, request: Request) -> None:
        t0 = time.perf_counter()
        try:
            x = request.make_input()
            scores = None if x is None else model.predict(x, request.class_names)
            error = ""
        except (DataError, ValueError) as e:
            x, scores, error = None, None, str(e)
        seconds = time.perf_counter() - t0
        if not self._send(Result(scores, x, error, model.loaded, model.weighted_layers,
                                 seconds, request.seq)):
            return
        rest = min(PREDICT_BUDGET * seconds, MAX_REST_S)
        self.rests.append(rest)
        if len(self.rests) > 1000:
            del self.rests[:-100]
        end = time.monotonic() + rest
        with self._cond:
            while not self._closed and (left := end - time.monotonic()) > 0:
                self._cond.wait(left)
