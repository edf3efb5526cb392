"""Shape inference of code nodes in a child process that can be stopped (the app's way).

A Custom layer's or Lambda's output shape is found by running the user's code, and code can
loop forever: ``while True`` in Python, ``sum(range(10**12))`` inside C, a recursion, a huge
allocation. None of these can be interrupted safely inside the app's own process — a thread
cannot be killed, and a C-level loop never lets go of the interpreter — so the app never runs
that code for shape inference itself. :class:`CodeShapeProcess` sends each (node, input shapes)
to one long-lived child (``python -m engine.graph.code_process``) and answers later:

* the child runs :func:`engine.graph.code_nodes.infer_code_node`, the same function scripts
  use, with its memory capped (``RLIMIT_AS``: what the imports took plus ``MEMORY_HEADROOM``);
* a watchdog thread in the child ends it after ``time_limit`` seconds, first reporting which
  line of the user's code was running (a Python-level loop lets the watchdog run);
* if no answer comes ``KILL_GRACE`` seconds after that (a loop inside C holds the interpreter,
  so even the watchdog cannot run), the parent kills the child;
* either way the node's error says the code did not finish, and the next request starts a
  fresh child. Results are cached by (type, parameters — the source —, input shapes); a newer
  request for the same node replaces one still waiting.

The caller's thread never blocks: :meth:`CodeShapeProcess.infer` returns the cached result or
None (queued), and ``on_result()`` is called from the service thread when answers arrive (the
app turns it into a Qt signal and re-runs shape inference, which then finds the cache filled).
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

TIME_LIMIT = 5.0          # seconds the user's code may take to answer one shape question
KILL_GRACE = 2.0          # then the parent kills a child whose own watchdog could not run
START_LIMIT = 120.0       # the child imports the engine first (slow on a loaded machine)
MEMORY_HEADROOM = 2 << 30  # bytes the user's code may allocate in the child
CACHE_SIZE = 512


def _key(node, in_shapes) -> str:
    return json.dumps([node.type_name, node.params, _shapes_json(in_shapes)], sort_keys=True,
                      default=str)


def _shapes_json(in_shapes):
    if isinstance(in_shapes, list):
        return {"many": [list(s) for s in in_shapes]}
    return {"one": list(in_shapes)}


def _shapes_from_json(value):
    if "many" in value:
        return [tuple(s) for s in value["many"]]
    return tuple(value["one"])


class CodeShapeProcess:
    """The client: ``infer(node, in_shapes)`` → a NodeInfo, or None while the child works."""

    def __init__(self, on_result: Callable[[], None] | None = None,
                 time_limit: float = TIME_LIMIT):
        self.on_result = on_result
        self.time_limit = float(time_limit)
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._waiting: OrderedDict[str, tuple[str, dict]] = OrderedDict()  # node id → request
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._in_flight: str | None = None
        self._closed = False
        self._proc: subprocess.Popen | None = None
        self._replies: queue.Queue = queue.Queue()
        self.children_started = 0          # (tests: a stopped child is replaced)
        self._ids = iter(range(1, 1 << 62))
        self._thread = threading.Thread(target=self._serve, name="code-shapes", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ caller's side
    def infer(self, node, in_shapes):
        key = _key(node, in_shapes)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            if key != self._in_flight:
                request = {"type": node.type_name, "name": node.name, "params": node.params,
                           "in_shapes": _shapes_json(in_shapes)}
                self._waiting[node.id] = (key, request)
                self._waiting.move_to_end(node.id)
                self._wake.notify()
        return None

    def busy(self) -> bool:
        with self._lock:
            return bool(self._waiting) or self._in_flight is not None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._stop_child()

    # ------------------------------------------------------------------ service thread
    def _serve(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                _, (key, request) = self._waiting.popitem(last=False)
                if key in self._cache:
                    continue
                self._in_flight = key
            result = self._ask(request)
            with self._lock:
                self._in_flight = None
                if result is not None:
                    self._cache[key] = result
                    while len(self._cache) > CACHE_SIZE:
                        self._cache.popitem(last=False)
            if result is not None and self.on_result is not None and not self._closed:
                self.on_result()

    def _ask(self, request: dict):
        from engine.graph.document import NodeInfo
        try:
            self._ensure_child()
        except (OSError, TimeoutError) as e:
            return NodeInfo(error=f"could not start the process that runs layer code to find "
                                  f"shapes ({e})")
        rid = next(self._ids)
        deadline = time.monotonic() + self.time_limit + KILL_GRACE
        reply = None
        try:
            self._proc.stdin.write(json.dumps({**request, "id": rid,
                                               "time_limit": self.time_limit}) + "\n")
            self._proc.stdin.flush()
            while reply is None or reply.get("id") != rid:   # (skip a late answer)
                reply = self._replies.get(timeout=max(0.0, deadline - time.monotonic()))
                if reply is None:
                    break
        except (OSError, ValueError, queue.Empty):
            reply = None
        if reply is None or reply.get("timeout"):
            self._stop_child()
            if self._closed:
                return None
            line = (reply or {}).get("line")
            at = f" (it was running line {line})" if line else ""
            return NodeInfo(error=f"its code did not finish within {self.time_limit:g} s{at} "
                                  f"— an endless loop? It was stopped; edit the code to run it "
                                  f"again", error_line=line)
        if "crash" in reply:
            self._stop_child()
            return NodeInfo(error=reply["crash"])
        shapes = [tuple(s) for s in reply.get("output_shapes", [])]
        return NodeInfo(shapes, int(reply.get("params", 0)), reply.get("error"),
                        reply.get("error_line"))

    def _ensure_child(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        self._stop_child()
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join([root] + [p for p in [
                       os.environ.get("PYTHONPATH")] if p]))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "engine.graph.code_process"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=root)
        self.children_started += 1
        self._replies = replies = queue.Queue()
        threading.Thread(target=_read_lines, args=(self._proc.stdout, replies),
                         name="code-shapes-reader", daemon=True).start()
        try:
            ready = replies.get(timeout=START_LIMIT)
        except queue.Empty:
            ready = None
        if not ready or not ready.get("ready"):
            self._stop_child()
            raise TimeoutError("it did not start")

    def _stop_child(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.kill()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass


def _read_lines(stream, replies: queue.Queue) -> None:
    for line in stream:
        try:
            replies.put(json.loads(line))
        except ValueError:
            continue
    replies.put(None)                       # the child ended


# ---------------------------------------------------------------------- the child process
def _cap_memory() -> None:
    try:
        import resource
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = used + MEMORY_HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError, AttributeError):
        pass                                 # not Linux: the time limit still holds


def _watchdog(limit: float, done: threading.Event, where: str, out, rid) -> None:
    """End this process after ``limit`` s, saying which line of the user's code ran."""
    if done.wait(limit):
        return
    from engine.saving.layer_source import source_filename
    line = None
    frame = sys._current_frames().get(threading.main_thread().ident)
    filename = source_filename(where)
    while frame is not None:
        if frame.f_code.co_filename == filename and line is None:
            line = frame.f_lineno
        frame = frame.f_back
    out.write(json.dumps({"id": rid, "timeout": True, "line": line}) + "\n")
    out.flush()
    os._exit(3)


def _child_main() -> None:
    out = os.fdopen(os.dup(1), "w", buffering=1)   # the answers; print() goes elsewhere
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import engine.layers  # noqa: F401  (registers the layer types before the memory cap)
    from engine.graph.code_nodes import infer_code_node, where_of
    from engine.graph.document import GraphNode
    from engine.registry import get_spec
    for type_name in ("CustomLayer", "Lambda"):   # first calls import and load kernels: not
        spec = get_spec(type_name)                # on the user's time limit
        params = {p.name: p.suggested if p.suggested is not None else p.default
                  for p in spec.params}
        infer_code_node(GraphNode("w", type_name, "warm_up", params), (None, 4))
    _cap_memory()
    out.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        node = GraphNode("n", request["type"], request["name"], request["params"])
        done = threading.Event()
        rid = request["id"]
        threading.Thread(target=_watchdog, args=(float(request["time_limit"]), done,
                                                 where_of(node), out, rid), daemon=True).start()
        try:
            info = infer_code_node(node, _shapes_from_json(request["in_shapes"]))
            reply = {"id": rid, "output_shapes": [list(s) for s in info.output_shapes],
                     "params": info.params, "error": info.error,
                     "error_line": info.error_line}
        except BaseException as e:  # noqa: BLE001 — SystemExit from user code, and the like
            reply = {"id": rid, "crash": f"its code stopped the process that runs it "
                                         f"({type(e).__name__}: {e})"}
        done.set()
        out.write(json.dumps(reply, default=str) + "\n")
        out.flush()
        if "crash" in reply:
            return


if __name__ == "__main__":
    _child_main()
