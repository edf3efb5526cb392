"""Python source text built only from validated names and plain literals.

Every piece of text that goes from a project or a model file into a generated script passes
through here. Names are checked — against Python's identifier rules, or against a set of
known names (the layer registry, the engine's initializer / optimizer / loss / callback
tables) — and everything else is written with ``repr`` of a plain literal: ``None``, ``bool``,
``int``, ``float``, ``str`` and lists / tuples / dicts of those. Text read from a file is never
pasted into source, so a hostile ``.loom`` or ``.h5`` cannot make a script run its own code.

    call("keras.layers.Dense", units=10, name=node.name)   # → layers.Dense(units=10, name='d')
"""
from __future__ import annotations

import inspect
import keyword
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from typing import Any

MAX_DEPTH = 32          # nesting of lists / dicts inside one literal
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


class ScriptValueError(ValueError):
    """A value from a project or model file that cannot go into a generated script; the
    message names where it came from and what it is."""


def identifier(name: Any, what: str) -> str:
    """``name`` if it is an ASCII Python identifier (not a keyword), else an error."""
    if not isinstance(name, str) or not name.isascii() or not name.isidentifier() or \
            keyword.iskeyword(name):
        raise ScriptValueError(f"{what}: {_show(name)} is not a valid Python name")
    return name


def known_name(name: Any, allowed: Iterable[str], what: str) -> str:
    """``name`` if it is one of ``allowed`` (and an identifier), else an error listing them."""
    allowed = set(allowed)
    if not isinstance(name, str) or name not in allowed:
        shown = ", ".join(sorted(allowed)[:12]) + (", …" if len(allowed) > 12 else "")
        raise ScriptValueError(f"{what}: {_show(name)} is not one of the known names ({shown})")
    return identifier(name, what)


def dotted(path: str, what: str = "callee") -> str:
    """A dotted name such as ``keras.layers.Dense`` whose every part is an identifier."""
    if not isinstance(path, str) or not _DOTTED.match(path) or \
            any(keyword.iskeyword(p) for p in path.split(".")):
        raise ScriptValueError(f"{what}: {_show(path)} is not a dotted Python name")
    return path


def literal(value: Any, what: str = "value", tuples: bool = False) -> str:
    """Python source of a plain ``value``; lists become tuples with ``tuples`` (Keras takes
    tuples for sizes such as ``kernel_size``). Anything else is an error naming ``what``."""
    return _literal(value, what, tuples, 0)


def _literal(value, what, tuples, depth) -> str:
    if depth > MAX_DEPTH:
        raise ScriptValueError(f"{what}: nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, numbers.Integral):
        try:
            return repr(int(value))
        except ValueError:      # more digits than Python prints (sys.get_int_max_str_digits)
            raise ScriptValueError(f"{what}: an integer with too many digits") from None
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "-float('inf')"
        return repr(value)
    if isinstance(value, (list, tuple)):
        items = [_literal(v, what, tuples, depth + 1) for v in value]
        if tuples or isinstance(value, tuple):
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
        return f"[{', '.join(items)}]"
    if isinstance(value, Mapping):
        items = []
        for k, v in value.items():
            if not (k is None or isinstance(k, (bool, str, numbers.Real))):
                raise ScriptValueError(f"{what}: a dict key of type {type(k).__name__}")
            items.append(f"{_literal(k, what, tuples, depth + 1)}: "
                         f"{_literal(v, what, tuples, depth + 1)}")
        return "{" + ", ".join(items) + "}"
    raise ScriptValueError(f"{what}: a value of type {type(value).__name__} cannot be written "
                           f"into a script")


def keyword_args(args: Mapping[str, Any], what: str, allowed: Iterable[str] | None = None,
                 tuples: bool = False) -> list[str]:
    """``["name=literal", ...]`` for ``args``; every key an identifier (and in ``allowed``
    when given)."""
    if not isinstance(args, Mapping):
        raise ScriptValueError(f"{what}: expected keyword arguments, got {_show(args)}")
    allowed = None if allowed is None else set(allowed)
    out = []
    for key, value in args.items():
        if allowed is not None:
            known_name(key, allowed, f"{what}: argument")
        else:
            identifier(key, f"{what}: argument")
        out.append(f"{key}={literal(value, f'{what}: argument {key!r}', tuples)}")
    return out


def call(callee: str, *args: str, kwargs: Iterable[str] = ()) -> str:
    """``callee(arg, ..., key=value, ...)``; ``args`` and ``kwargs`` are source pieces made by
    this module (``literal``, ``keyword_args``) or variable names."""
    return f"{dotted(callee)}({', '.join([*args, *kwargs])})"


def accepted_arguments(cls: type) -> set[str]:
    """The named constructor arguments of ``cls`` and its bases (no ``*args`` / ``**kwargs``)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        names |= {p.name for p in params if p.name != "self" and
                  p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names


def variable_name(text: Any, used: set[str], reserved: Iterable[str] = ()) -> str:
    """A fresh ASCII identifier derived from ``text`` (a layer name), added to ``used``."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", str(text))[:60] or "t"
    if base[0].isdigit() or keyword.iskeyword(base) or base in set(reserved) or \
            base.startswith("__"):
        base = "t_" + base
    out, k = base, 1
    while out in used:
        out, k = f"{base}_{k}", k + 1
    used.add(out)
    return out


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"
