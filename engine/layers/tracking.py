"""What a user layer holds, found from its attributes as Keras tracks it: sublayers and weights
assigned as attributes (also inside lists, tuples and dicts), in assignment order; and Keras 3's
automatic config from plain ``__init__`` arguments.

Nothing is tracked on assignment (no ``__setattr__`` hook, so built-in layers pay nothing): the
attributes are read when ``weights`` or ``layers`` are asked for.
"""
from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

# attributes that are bookkeeping, never sublayers (a layer's nodes hold other layers' tensors)
_SKIP = frozenset({"_nodes", "_call_record", "_layer_losses", "_auto_config", "_inbound"})


def _values(obj) -> Iterator[Any]:
    if isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _values(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _values(v)
    else:
        yield obj


def attribute_items(layer, kind: type) -> list:
    """Objects of ``kind`` held in ``layer``'s attributes (or their lists/dicts), in order,
    each once; the layer itself excluded."""
    out, seen = [], {id(layer)}
    for name, value in layer.__dict__.items():
        if name in _SKIP:
            continue
        for v in _values(value):
            if isinstance(v, kind) and id(v) not in seen:
                seen.add(id(v))
                out.append(v)
    return out


def sublayers(layer) -> list:
    """The layers ``layer`` holds directly (its own override, e.g. a Functional model's)."""
    return layer._sublayers()


def walk_layers(layer) -> list:
    """``layer`` and all layers inside it, each once, parents first."""
    out, seen, stack = [], set(), [layer]
    while stack:
        cur = stack.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        out.append(cur)
        stack.extend(reversed(sublayers(cur)))
    return out


# ---------------------------------------------------------------------- auto config
_PLAIN = (str, int, float, bool, type(None))


def _plain(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, _PLAIN)


def auto_config(cls, args: tuple, kwargs: dict) -> dict | None:
    """Keras 3's config for a subclass without ``get_config``: the ``__init__`` arguments (with
    defaults), when all are plain values; None when they cannot be (objects, ``*args``)."""
    try:
        sig = inspect.signature(cls.__init__)
        bound = sig.bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return None
    bound.apply_defaults()
    params = list(sig.parameters.values())
    values = dict(bound.arguments)
    values.pop(params[0].name, None)
    for p in params[1:]:
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            values.update(values.pop(p.name, {}))
        elif p.kind is inspect.Parameter.VAR_POSITIONAL:
            if values.pop(p.name, ()):
                return None
        elif p.kind is inspect.Parameter.POSITIONAL_ONLY:
            return None
    values.pop("name", None)
    return values if _plain(values) else None
