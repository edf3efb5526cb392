"""The code of the canvas's Custom layer and Lambda nodes: checked with ``ast``, compiled only
after consent, and turned into a registered class for exported scripts.

A Custom layer's source is the body of a Keras ``Layer`` subclass written as top-level
functions — what a student writes between ``class MyLayer(keras.layers.Layer):`` and the end::

    def build(self, input_shape):              # optional: make the weights
        self.w = self.add_weight(shape=(input_shape[-1], 8), initializer="glorot_uniform")

    def call(self, x):                         # required: the computation, with ops
        return ops.matmul(x, self.w)

    def compute_output_shape(self, input_shape):   # optional: else found by running call

Nothing else may stand at the top level (no imports, assignments or other functions): ``ops``,
``keras``, ``layers``, ``np`` and ``math`` are already there, and the text must mean the same
as a class body in an exported script. A Lambda node holds one expression of ``x``
(``x * 2``), kept as the source ``lambda x: x * 2``.

Errors are :class:`CodeError` with the line in the user's text (1-based), for the node and the
Problems panel; :func:`error_line` finds the line of a runtime error in a traceback.
"""
from __future__ import annotations

import ast
import builtins
import keyword
import textwrap
import traceback

from engine.saving.safe_mode import require_consent

# the functions a Custom layer's source may define, with the arguments each must start with
METHODS = {"build": ("self", "input_shape"), "call": ("self",),
           "compute_output_shape": ("self", "input_shape")}
MAX_SOURCE_CHARS = 100_000
KERAS_PACKAGE = "LayerLoom"      # registered as "LayerLoom>ClassName", in files and scripts
# names an exported script defines or imports: a custom class may not take one of them
_SCRIPT_NAMES = frozenset({"keras", "layers", "ops", "np", "math", "model", "engine",
                           "load_data", "Layer", "Model", "Input"})

EXAMPLE_SOURCE = '''\
# The body of a Keras layer class: build() makes the weights, call() computes.
# ops (keras.ops), keras, np and math are ready to use; no imports needed.

def build(self, input_shape):
    units = 32
    self.w = self.add_weight(shape=(input_shape[-1], units),
                             initializer="glorot_uniform", name="kernel")
    self.b = self.add_weight(shape=(units,), initializer="zeros", name="bias")


def call(self, x):
    return ops.relu(ops.matmul(x, self.w) + self.b)
'''


class CodeError(ValueError):
    """A problem in user code; ``line`` is the 1-based line in its text (None: the whole)."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


# ------------------------------------------------------------------------------- checking
def check_class_name(name, where: str) -> str:
    """``name`` if it can name the layer's class in Python and in a script, else CodeError."""
    if not isinstance(name, str) or not name.isascii() or not name.isidentifier() or \
            keyword.iskeyword(name):
        raise CodeError(f"{where}: class_name {name!r} is not a Python class name (letters, "
                        f"digits and _, not starting with a digit), e.g. 'MyDense'")
    if name.startswith("_") or name in _SCRIPT_NAMES or hasattr(builtins, name):
        raise CodeError(f"{where}: class_name {name!r} is taken by Python or by the exported "
                        f"script; choose another, e.g. 'My{name.strip('_').capitalize()}'")
    return name


def parse_layer_source(source, where: str) -> ast.Module:
    """The syntax tree of a Custom layer's source, checked to be only ``build`` / ``call`` /
    ``compute_output_shape`` functions (``call`` required). Raises :class:`CodeError`."""
    if not isinstance(source, str):
        raise CodeError(f"{where}: its source must be text, got {type(source).__name__}")
    if len(source) > MAX_SOURCE_CHARS:
        raise CodeError(f"{where}: its source is {len(source):,} characters; at most "
                        f"{MAX_SOURCE_CHARS:,} are allowed")
    try:
        tree = ast.parse(source, filename=f"<{where}>")
    except SyntaxError as e:
        raise CodeError(f"line {e.lineno}: {e.msg}", e.lineno) from None
    seen: set[str] = set()
    for k, stmt in enumerate(tree.body):
        if k == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) \
                and isinstance(stmt.value.value, str):
            continue                                   # a docstring
        if not isinstance(stmt, ast.FunctionDef) or stmt.name not in METHODS:
            what = f"def {stmt.name}" if isinstance(stmt, (ast.FunctionDef,
                                                           ast.AsyncFunctionDef)) \
                else type(stmt).__name__.lower()
            raise CodeError(f"line {stmt.lineno}: only the functions "
                            f"{', '.join(METHODS)} may stand at the top level, found {what} "
                            f"(ops, keras, np and math need no import)", stmt.lineno)
        if stmt.decorator_list:
            raise CodeError(f"line {stmt.lineno}: {stmt.name}() may not have decorators",
                            stmt.lineno)
        if stmt.name in seen:
            raise CodeError(f"line {stmt.lineno}: {stmt.name}() is defined twice", stmt.lineno)
        seen.add(stmt.name)
        _check_arguments(stmt)
    if "call" not in seen:
        raise CodeError("the source must define call(self, x), e.g.\n"
                        "def call(self, x):\n    return x * 2")
    return tree


def _check_arguments(fn: ast.FunctionDef) -> None:
    want = METHODS[fn.name]
    names = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    if names[:len(want)] != list(want) or (fn.name == "call" and len(names) < 2):
        shown = ", ".join(want + (("x",) if fn.name == "call" else ()))
        raise CodeError(f"line {fn.lineno}: {fn.name}() must take ({shown}), found "
                        f"({', '.join(names)})", fn.lineno)


def lambda_source(text, where: str) -> str:
    """The source ``lambda x: <expression>`` of a Lambda node's one expression of ``x`` (a
    ``lambda ...`` typed whole is kept). Checked with ``ast``; raises :class:`CodeError`."""
    if not isinstance(text, str) or not text.strip():
        raise CodeError(f"{where}: write one expression of x, e.g. x * 2")
    text = text.strip()
    if len(text) > MAX_SOURCE_CHARS:
        raise CodeError(f"{where}: the expression is longer than {MAX_SOURCE_CHARS:,} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise CodeError(f"line {e.lineno}: {e.msg}", e.lineno) from None
    if isinstance(tree.body, ast.Lambda):
        if len(tree.body.args.args) < 1:
            raise CodeError(f"{where}: the lambda must take the input, e.g. lambda x: x * 2")
        return text
    return f"lambda x: {text}" if "\n" not in text else f"lambda x: ({text})"


def expression_of(function_source: str | None) -> str:
    """What a Lambda node's editor shows: ``x * 2`` for ``lambda x: x * 2``, else the text."""
    if not function_source:
        return ""
    try:
        tree = ast.parse(function_source.strip(), mode="eval")
    except SyntaxError:
        return function_source
    lam = tree.body
    if isinstance(lam, ast.Lambda) and [a.arg for a in lam.args.args] == ["x"] and \
            not (lam.args.vararg or lam.args.kwarg or lam.args.kwonlyargs or lam.args.defaults):
        body = ast.get_source_segment(function_source.strip(), lam.body)
        if body is not None:
            return body[1:-1] if body.startswith("(") and body.endswith(")") and "\n" in body \
                else body
    return function_source


def code_in_model_config(config) -> dict[str, str]:
    """{layer name: its code} for the layers of a model config (Keras's or ours, nested models
    included) that hold code — what a consent dialog shows before a file is loaded."""
    from engine.saving.python_code import source_of
    found: dict[str, str] = {}

    def walk(obj, depth: int) -> None:
        if depth > 64:
            return
        if isinstance(obj, list):
            for v in obj:
                walk(v, depth + 1)
            return
        if not isinstance(obj, dict):
            return
        cfg = obj.get("config") if isinstance(obj.get("config"), dict) else {}
        name = str(cfg.get("name") or obj.get("name") or "?")
        if isinstance(obj.get("layerloom_source"), str):
            found[name] = obj["layerloom_source"]
        elif obj.get("class_name") == "CustomLayer" and isinstance(cfg.get("source"), str):
            found[name] = cfg["source"]
        elif obj.get("class_name") == "Lambda":
            found[name] = source_of(cfg.get("function")) or \
                "(Python bytecode only, which LayerLoom does not run)"
        for v in obj.values():
            walk(v, depth + 1)
    walk(config, 0)
    return found


# ------------------------------------------------------------------------------- running
def source_filename(where: str) -> str:
    """The file name tracebacks show for a node's code (how :func:`error_line` finds it)."""
    return f"<{where}>"          # (as engine.saving.python_code compiles a Lambda's)


def compile_layer_source(source: str, class_name: str, where: str) -> dict:
    """The functions a Custom layer's source defines (``{"call": fn, ...}``), after consent
    (in safe mode this raises :class:`~engine.saving.safe_mode.UnsafeCodeError`)."""
    tree = parse_layer_source(source, where)
    require_consent(where, f"the Python source of custom layer class {class_name}", source)
    from engine.saving.python_code import _namespace
    ns = _namespace({})
    code = compile(tree, source_filename(where), "exec")
    exec(code, ns)  # noqa: S102  (only function definitions, checked above; consent given)
    return {name: ns[name] for name in METHODS if name in ns}


def error_line(exc: BaseException, where: str) -> int | None:
    """The line of the user's code (named by ``where``) where ``exc`` was raised, if any."""
    if isinstance(exc, CodeError):
        return exc.line
    filename = source_filename(where)
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    cause = exc.__cause__ or exc.__context__
    if line is None and cause is not None and cause is not exc:
        return error_line(cause, where)
    return line


# ------------------------------------------------------------------------------- scripts
def class_source(class_name: str, source: str, where: str, base: str = "keras.layers.Layer",
                 package: str = KERAS_PACKAGE) -> str:
    """A registered class with the source as its body, for an exported script::

        @keras.saving.register_keras_serializable(package="LayerLoom")
        class MyDense(keras.layers.Layer):
            def build(self, input_shape): ...

    The one place where user-authored text goes into a generated script: the class name is
    checked, the source must pass :func:`parse_layer_source`, and the finished class is parsed
    again and must hold exactly the checked functions (else it is rewritten from the tree)."""
    check_class_name(class_name, where)
    tree = parse_layer_source(source, where)
    head = (f"@keras.saving.register_keras_serializable(package={package!r})\n"
            f"class {class_name}({base}):\n")
    text = head + textwrap.indent(textwrap.dedent(source).strip("\n") + "\n", "    ")
    if not _same_body(text, tree):
        text = head + textwrap.indent(ast.unparse(tree) + "\n", "    ")
        if not _same_body(text, tree):
            raise CodeError(f"{where}: its source cannot be written as a class body")
    return text


def _same_body(class_text: str, tree: ast.Module) -> bool:
    try:
        parsed = ast.parse(class_text)
    except SyntaxError:
        return False
    if len(parsed.body) != 1 or not isinstance(parsed.body[0], ast.ClassDef):
        return False
    got = [ast.dump(s) for s in parsed.body[0].body]
    return got == [ast.dump(s) for s in tree.body]
