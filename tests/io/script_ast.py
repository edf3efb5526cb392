"""What a generated Keras script may contain, checked on its syntax tree.

``unexpected_in_script(source)`` lists every node that is not one of the expected kinds and
names: imports of keras / engine / numpy only, calls of known layer, initializer, optimizer,
loss and callback classes and of the few functions the template uses, names the script itself
assigns. A payload pasted from a file (``__import__``, ``os.system``, ``eval``, a lambda, a
comprehension ...) shows up here. Used by the script-export tests (extend ``extra_names`` for
new template code).
"""
from __future__ import annotations

import ast
import builtins

from engine import constraints, initializers, optimizers, regularizers
from engine.registry import by_category

NODE_KINDS = {
    ast.Module, ast.Expr, ast.Constant, ast.Assign, ast.Name, ast.Load, ast.Store, ast.Call,
    ast.Attribute, ast.keyword, ast.List, ast.Tuple, ast.Dict, ast.Import, ast.ImportFrom,
    ast.alias, ast.FunctionDef, ast.arguments, ast.Return, ast.If, ast.Compare, ast.Eq,
    ast.Subscript, ast.Slice, ast.UnaryOp, ast.USub, ast.BinOp, ast.Add, ast.Mult, ast.Div,
    ast.Raise, ast.IfExp, ast.In,
    # the script template's own code (main, data helpers, data-parallel scope)
    ast.With, ast.withitem, ast.For, ast.arg, ast.ListComp, ast.GeneratorExp, ast.comprehension,
    ast.BoolOp, ast.And, ast.Or, ast.Not, ast.Is, ast.IsNot, ast.NotEq, ast.Sub, ast.Mod,
    ast.AugAssign, ast.Lt,
}
MODULES = {"keras", "engine", "engine.callbacks", "engine.constraints", "engine.initializers",
           "engine.models", "engine.optimizers", "engine.regularizers", "engine.utils",
           "engine.datasets.bundled", "numpy", "argparse", "contextlib", "os", "pathlib",
           "gzip", "h5py", "tensorflow"}
BUILTINS = {"print", "len", "float", "SystemExit", "int", "sorted", "enumerate"}
TEMPLATE_ATTRIBUTES = {
    "Input", "models", "Model", "layers", "compile", "fit", "evaluate", "load_weights",
    "initializers", "regularizers", "constraints", "optimizers", "callbacks", "utils",
    "to_categorical", "datasets", "mnist", "load_data", "load", "reshape", "shape", "files",
    # main(): arguments, files beside the script, data-parallel training
    "ArgumentParser", "add_argument", "parse_args", "epochs", "distribute", "Path", "resolve",
    "parent", "exists", "optimizer", "build", "trainable_variables", "history", "backend",
    "distribution", "DataParallel", "list_devices", "scope", "nullcontext", "environ", "get",
    "MirroredStrategy", "MultiWorkerMirroredStrategy", "LambdaCallback",
    # reading the data source's files
    "random", "default_rng", "permutation", "asarray", "float32", "max", "File", "read_bytes",
    "decompress", "frombuffer", "prod", "iterdir", "is_dir", "name", "walk", "lower",
    "endswith", "startswith", "append", "load_img", "img_to_array", "stack", "array"}
TEMPLATE_NAMES = {"keras", "layers", "np", "mnist_subset", "__name__", "__file__", "__doc__",
                  "argparse", "contextlib", "os", "pathlib", "gzip", "h5py", "tf"}


def known_attributes() -> set[str]:
    names = {s.type_name for specs in by_category().values() for s in specs} | set(optimizers.CLASSES) | \
        set(initializers.CLASSES) | set(regularizers.CLASSES) | set(constraints.CLASSES)
    from engine.datasets.catalog import DATASETS
    return names | set(DATASETS) | {"EarlyStopping", "ReduceLROnPlateau"} | TEMPLATE_ATTRIBUTES


def unexpected_in_script(source: str, extra_names: set[str] = frozenset()) -> list[str]:
    """Every unexpected node of ``source`` as ``"line N: what"`` (empty for a safe script)."""
    tree = ast.parse(source)
    attributes = known_attributes() | set(extra_names)
    assigned = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                for tgt in node.targets for t in ast.walk(tgt) if isinstance(t, ast.Name)}
    assigned |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    bound = [n.target for n in ast.walk(tree) if isinstance(n, (ast.For, ast.comprehension))]
    bound += [n.optional_vars for n in ast.walk(tree)
              if isinstance(n, ast.withitem) and n.optional_vars is not None]
    assigned |= {t.id for b in bound for t in ast.walk(b) if isinstance(t, ast.Name)}
    assigned |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    names = assigned | BUILTINS | TEMPLATE_NAMES | set(extra_names)
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if type(node) not in NODE_KINDS:
            found.append(f"line {line}: {type(node).__name__} node")
        elif isinstance(node, ast.Name) and node.id not in names:
            found.append(f"line {line}: name {node.id!r}")
        elif isinstance(node, ast.Name) and node.id in set(dir(builtins)) - BUILTINS - TEMPLATE_NAMES:
            found.append(f"line {line}: builtin {node.id!r}")
        elif isinstance(node, ast.Attribute) and node.attr not in attributes:
            found.append(f"line {line}: attribute {node.attr!r}")
        elif isinstance(node, ast.Import) and any(a.name not in MODULES for a in node.names):
            found.append(f"line {line}: import {[a.name for a in node.names]}")
        elif isinstance(node, ast.ImportFrom) and node.module not in MODULES:
            found.append(f"line {line}: from {node.module} import")
        elif isinstance(node, ast.Call) and not isinstance(node.func, (ast.Name, ast.Attribute, ast.Call)):
            found.append(f"line {line}: call of a {type(node.func).__name__}")
        elif isinstance(node, ast.FunctionDef) and (
                node.decorator_list or node.args.defaults or node.args.kw_defaults or
                node.args.vararg or node.args.kwarg):
            found.append(f"line {line}: function {node.name!r} with decorators or defaults")
    return found
