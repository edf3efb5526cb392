"""Code in files runs only with the user's consent (Keras's ``safe_mode``).

A Lambda's function or a custom layer's class stored as source text is Python code; a file
holding it may come from anyone. Loaders (``load_model``, ``model_from_json``,
``load_project``) take ``safe_mode=True`` and run inside :class:`SafeModeScope`; turning stored
source into code goes through :func:`require_consent`, which refuses in safe mode with an error
that names the layer and how to allow it. Outside any loader (a script or the canvas building a
Lambda the user typed) code runs as written, as in Keras.
"""
from __future__ import annotations

import threading

_state = threading.local()
_unsafe_everywhere = False


class UnsafeCodeError(ValueError):
    """A file holds code (a Lambda's function, a custom layer's source) and safe mode is on."""

    def __init__(self, message: str, where: str = "", source: str = ""):
        super().__init__(message)
        self.where = where        # the layer, e.g. "Lambda 'scale'"
        self.source = source      # the code that would run (the app shows it before asking)


def enable_unsafe_deserialization() -> None:
    """Allow code in loaded files everywhere (``keras.config.enable_unsafe_deserialization``)."""
    global _unsafe_everywhere
    _unsafe_everywhere = True


class SafeModeScope:
    """``with SafeModeScope(safe_mode):`` — what loaders run inside (None keeps the outer)."""

    def __init__(self, safe_mode: bool | None = True):
        self.safe_mode = safe_mode

    def __enter__(self):
        stack = getattr(_state, "stack", None)
        if stack is None:
            stack = _state.stack = []
        stack.append(self.safe_mode if self.safe_mode is not None else in_safe_mode())
        return self

    def __exit__(self, *exc) -> None:
        _state.stack.pop()


def in_safe_mode() -> bool:
    """True while a loader runs in safe mode (the default of every loader)."""
    if _unsafe_everywhere:
        return False
    stack = getattr(_state, "stack", None)
    return bool(stack[-1]) if stack else False


def require_consent(where: str, what: str, source: str = "") -> None:
    """Raise :class:`UnsafeCodeError` if code from a file may not run now."""
    if in_safe_mode():
        raise UnsafeCodeError(
            f"{where}: the file holds {what}, and loading it would run that code. If you "
            f"trust this file, load it with safe_mode=False (load_model(path, "
            f"safe_mode=False), load_project(path, safe_mode=False)); in the app, confirm in "
            f"the dialog that shows the code", where, source)
