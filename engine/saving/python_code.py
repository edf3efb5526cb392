"""Python code kept in configs as source text: a Lambda's function, a custom layer's class.

We store *source*, never bytecode we would have to load: ``function_config(fn)`` finds a
lambda's or function's own text (for a lambda inside a longer line, the lambda expression
itself), the plain values it reads from its closure or module (numbers, strings, tuples ...)
and which of engine/numpy/math it uses by what name. Keras's ``code`` (marshal, base64) is
written beside it so that real Keras can load the file with ``safe_mode=False``; we never read
it. Turning text back into code (:func:`load_function`, :func:`load_class`) asks
:func:`engine.saving.safe_mode.require_consent` first.
"""
from __future__ import annotations

import ast
import base64
import importlib
import inspect
import marshal
import math
import textwrap
import types
from typing import Any

import numpy as np

from engine.saving.safe_mode import require_consent

_PLAIN = (int, float, str, bool, type(None))
# modules code may use, by the name it gave them; keras.* is the engine
_MODULE_ROOTS = ("engine", "numpy", "math", "keras")


def _plain(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, _PLAIN) and not isinstance(value, np.generic)


def _lambda_source(fn) -> str | None:
    """The text of the lambda expression ``fn`` was made from, or None."""
    try:
        src = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    try:
        tree = ast.parse(src)
    except SyntaxError:            # a lambda inside a continued expression: try it alone
        start = src.find("lambda")
        if start < 0:
            return None
        src = src[start:]
        tree = None
        for end in range(len(src), 0, -1):
            try:
                tree = ast.parse(src[:end], mode="eval")
                src = src[:end]
                break
            except SyntaxError:
                continue
        if tree is None:
            return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Lambda):
            text = ast.get_source_segment(src, node)
            try:
                code = compile(text, "<lambda>", "eval")
            except SyntaxError:
                continue
            inner = next((c for c in code.co_consts if isinstance(c, types.CodeType)), None)
            if inner is not None and _same_code(inner, fn.__code__):
                return text
    return None


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    """The same lambda text compiled twice (bytecode itself may be specialized once run)."""
    def consts(c):
        return tuple(v for v in c.co_consts if not isinstance(v, types.CodeType))
    return (a.co_names, a.co_varnames, a.co_argcount, consts(a)) == \
        (b.co_names, b.co_varnames, b.co_argcount, consts(b))


def function_config(fn) -> dict[str, Any]:
    """Keras's ``{"class_name": "__lambda__", "config": {...}}`` for ``fn``, with its source."""
    if isinstance(fn, str):
        return {"class_name": "__lambda__", "config": {"source": fn}}
    if isinstance(fn, dict):
        return fn
    is_lambda = getattr(fn, "__name__", "") == "<lambda>"
    if is_lambda:
        source = _lambda_source(fn)
    else:
        try:
            source = textwrap.dedent(inspect.getsource(fn))
        except (OSError, TypeError):
            source = None
    if source is None:
        raise ValueError(f"cannot save the function {getattr(fn, '__name__', fn)!r}: its source "
                         f"text is not available (defined interactively?); define it in a file")
    code = getattr(fn, "__code__", None)
    values, modules = {}, {}
    if code is not None:
        cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
        for name in code.co_freevars:
            try:
                value = cells[name].cell_contents
            except ValueError:
                continue
            _capture(name, value, values, modules)
        for name in code.co_names:
            if name in fn.__globals__:
                _capture(name, fn.__globals__[name], values, modules)
    config = {"source": source, "values": values, "modules": modules,
              "name": None if is_lambda else fn.__name__}
    if code is not None:           # for real Keras only (we never load bytecode)
        config["code"] = base64.b64encode(marshal.dumps(code)).decode("ascii")
        config["defaults"] = None
        config["closure"] = None
    return {"class_name": "__lambda__", "config": config}


def _capture(name: str, value, values: dict, modules: dict) -> None:
    if isinstance(value, types.ModuleType):
        if value.__name__.split(".")[0] in _MODULE_ROOTS:
            modules[name] = value.__name__
    elif _plain(value):
        values[name] = value


def _namespace(config: dict) -> dict[str, Any]:
    import engine
    ns: dict[str, Any] = {"keras": engine, "ops": importlib.import_module("engine.ops"),
                          "layers": importlib.import_module("engine.layers"), "np": np,
                          "numpy": np, "math": math}
    for alias, module in (config.get("modules") or {}).items():
        if not isinstance(module, str) or module.split(".")[0] not in _MODULE_ROOTS:
            continue
        name = "engine" + module[len("keras"):] if module.split(".")[0] == "keras" else module
        try:
            ns[alias] = importlib.import_module(name)
        except ImportError:
            continue
    for k, v in (config.get("values") or {}).items():
        if isinstance(k, str) and _plain(v):
            ns[k] = tuple(v) if isinstance(v, list) else v
    return ns


def source_of(function_value) -> str | None:
    """The source text in a stored function value (a config dict or text), if any."""
    if isinstance(function_value, str):
        return function_value
    if isinstance(function_value, dict):
        cfg = function_value.get("config")
        if isinstance(cfg, dict) and isinstance(cfg.get("source"), str):
            return cfg["source"]
    return None


def load_function(function_value, where: str):
    """The function a config stores: its source run (after consent) in a namespace with
    engine (as ``keras``), ``ops``, ``layers``, numpy and the captured values."""
    if callable(function_value):
        return function_value
    source = source_of(function_value)
    if source is None:
        raise ValueError(f"{where}: its function is stored only as Python bytecode (written by "
                         f"real Keras), which LayerLoom does not run; re-create the Lambda, or "
                         f"register the function and use it by name")
    require_consent(where, "a Python function (a Lambda's code)", source)
    config = function_value.get("config", {}) if isinstance(function_value, dict) else {}
    ns = _namespace(config)
    text = source.strip()
    try:
        tree = ast.parse(text, mode="eval")
        return eval(compile(tree, f"<{where}>", "eval"), ns)     # a lambda or an expression
    except SyntaxError:
        pass
    try:
        exec(compile(text, f"<{where}>", "exec"), ns)  # noqa: S102  (consent given above)
    except SyntaxError as e:
        raise SyntaxError(f"{where}: line {e.lineno}: {e.msg}") from None
    name = config.get("name")
    if name and callable(ns.get(name)):
        return ns[name]
    made = [v for k, v in ns.items() if isinstance(v, types.FunctionType)
            and getattr(v, "__code__", None) is not None and v.__code__.co_filename == f"<{where}>"]
    if len(made) != 1:
        raise ValueError(f"{where}: its code defines {len(made)} functions; expected one")
    return made[0]


def load_class(source: str, class_name: str, where: str):
    """A class defined by ``source`` (a custom layer's code), after consent."""
    require_consent(where, f"the Python source of class {class_name}", source)
    ns = _namespace({})
    try:
        exec(compile(textwrap.dedent(source), f"<{where}>", "exec"), ns)  # noqa: S102  (consented)
    except SyntaxError as e:
        raise SyntaxError(f"{where}: line {e.lineno}: {e.msg}") from None
    cls = ns.get(class_name)
    if not isinstance(cls, type):
        raise ValueError(f"{where}: its source does not define a class {class_name}")
    return cls
