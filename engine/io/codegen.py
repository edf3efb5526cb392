"""Export a graph as a runnable Python script: Keras (for TensorFlow/Keras, distributed training)
or the engine flavour (the same code on LayerLoom's engine).

The script defines the model with the Functional API (parameters that differ from the defaults
only), compiles it with the project's settings, optionally loads exported weights, and trains on
the project's data when the data source is one a script can read by itself (bundled MNIST, a
data set Keras downloads, an .npz file); otherwise ``load_data`` says what to fill in.
"""
from __future__ import annotations

import builtins
import keyword
import re
from typing import Any

from engine.registry import get_spec

HEADER = {
    "keras": "import keras\nfrom keras import layers\n",
    "engine": ("import engine as keras  # LayerLoom's Keras-compatible engine\n"
               "import engine.callbacks\nimport engine.initializers\nimport engine.models\n"
               "import engine.optimizers\nimport engine.regularizers\nimport engine.utils\n"
               "from engine import layers\n"),
}
MODULE_OF = {"initializer": "initializers", "regularizer": "regularizers",
             "constraint": "constraints"}


def _ident(name: str, used: set[str]) -> str:
    base = re.sub(r"\W", "_", name) or "t"
    if base[0].isdigit() or keyword.iskeyword(base) or hasattr(builtins, base) or \
            base in ("keras", "layers", "model", "engine", "INPUT_SHAPE"):
        base = "t_" + base
    out, k = base, 1
    while out in used:
        out, k = f"{base}_{k}", k + 1
    used.add(out)
    return out


def _literal(value: Any) -> str:
    if isinstance(value, list):
        inner = ", ".join(_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def _param_code(kind: str, value: Any) -> str:
    if kind in MODULE_OF and isinstance(value, dict) and "class_name" in value:
        args = ", ".join(f"{k}={_literal(v)}" for k, v in (value.get("config") or {}).items())
        return f"keras.{MODULE_OF[kind]}.{value['class_name']}({args})"
    return _literal(value)


def layer_call(node) -> str:
    """``layers.Dense(units=10, activation='softmax', name='out')`` for one graph node."""
    spec = get_spec(node.type_name)
    defaults = {p.name: p for p in spec.params}
    from engine.registry import serialize_value
    args = []
    for name, value in node.params.items():
        p = defaults.get(name)
        if p is None or name == "data_format":
            continue
        if value == serialize_value(p, p.default) or (value is None and p.default is None):
            continue
        args.append(f"{name}={_param_code(p.kind, value)}")
    args.append(f"name={node.name!r}")
    return f"layers.{spec.type_name}({', '.join(args)})"


def model_code(graph) -> list[str]:
    order, cyclic = graph.topological_order()
    if cyclic:
        raise ValueError("the graph has a cycle; fix it before exporting")
    used: set[str] = set()
    var: dict[str, str] = {}
    lines = []
    for nid in order:
        node = graph.nodes[nid]
        v = var[nid] = _ident(node.name, used)
        if node.type_name == "InputLayer":
            shape = tuple(node.params.get("shape") or ())
            dtype = node.params.get("dtype")
            extra = f", dtype={dtype!r}" if dtype and dtype != "float32" else ""
            lines.append(f"{v} = keras.Input(shape={shape!r}{extra}, name={node.name!r})")
            continue
        srcs = [var[e.src] + (f"[{e.src_port}]" if graph.output_port_count(e.src) > 1 else "")
                for e in graph.in_edges(nid)]
        arg = f"[{', '.join(srcs)}]" if (node.spec.n_inputs or 2) > 1 else (srcs[0] if srcs
                                                                            else "None")
        lines.append(f"{v} = {layer_call(node)}({arg})")
    ins = [var[n.id] for n in graph.input_nodes()]
    outs = [var[n.id] for n in graph.output_nodes()]
    fmt = (lambda xs: xs[0] if len(xs) == 1 else f"[{', '.join(xs)}]")
    lines.append(f"model = keras.models.Model(inputs={fmt(ins)}, outputs={fmt(outs)}, "
                 f"name={graph.name!r})")
    return lines


def _data_code(data_source: dict | None, flavour: str) -> list[str]:
    kind = (data_source or {}).get("kind")
    scale = (data_source or {}).get("scale")
    lines = _load_lines(data_source, flavour, kind, scale)
    if (data_source or {}).get("one_hot") and kind in ("bundled", "keras_dataset", "npz"):
        ret = lines.pop()
        lines += ["    y_train = keras.utils.to_categorical(y_train)",
                  "    y_test = keras.utils.to_categorical(y_test, y_train.shape[-1])", ret]
    return lines


def _load_lines(data_source, flavour, kind, scale) -> list[str]:
    from engine.datasets.catalog import DATASETS
    name = (data_source or {}).get("name")
    loader = None
    if kind == "bundled" and name == "mnist":
        loader = ("keras.datasets.mnist.load_data()" if flavour == "keras" else
                  "__import__('engine.datasets.bundled', fromlist=['x']).mnist_subset()")
    elif kind == "keras_dataset" and name in DATASETS and not data_source.get("path"):
        loader = f"keras.datasets.{name}.load_data()"      # a validated module name
    if loader is not None:
        return ["def load_data():",
                f"    (x_train, y_train), (x_test, y_test) = {loader}",
                "    x_train = x_train.reshape((len(x_train),) + INPUT_SHAPE) / 255.0",
                "    x_test = x_test.reshape((len(x_test),) + INPUT_SHAPE) / 255.0",
                "    return (x_train, y_train), (x_test, y_test)"]
    if kind == "npz":
        path = data_source.get("path")
        factor = f" * {float(scale)!r}" if isinstance(scale, (int, float)) else ""
        return ["def load_data():",
                f"    d = __import__('numpy').load({path!r}, allow_pickle=False)",
                f"    x_train, y_train = d['x_train']{factor}, d['y_train']",
                "    x_test, y_test = ((d['x_test']" + factor + ", d['y_test']) if 'x_test' in "
                "d.files else (x_train[:0], y_train[:0]))",
                "    return (x_train, y_train), (x_test, y_test)"]
    return ["def load_data():",
            f"    raise SystemExit('load_data: this project reads its data from a "
            f"{kind or 'not yet chosen'} source; put your arrays here and return "
            f"(x_train, y_train), (x_test, y_test)')"]


def keras_script(graph, training, weights_path: str | None = None, flavour: str = "keras",
                 data_source: dict | None = None) -> str:
    """The Python source of a script that rebuilds, compiles and trains ``graph``."""
    if flavour not in HEADER:
        raise ValueError(f"flavour must be 'keras' or 'engine', got {flavour!r}")
    first = graph.input_nodes()
    in_shape = tuple(first[0].params.get("shape") or ()) if first else ()
    opt_args = ", ".join(f"{k}={v!r}" for k, v in (training.optimizer_args or {}).items())
    cbs = []
    if training.early_stopping is not None:
        cbs.append("keras.callbacks.EarlyStopping(" + ", ".join(
            f"{k}={v!r}" for k, v in training.early_stopping.items()) + ")")
    if training.reduce_lr is not None:
        cbs.append("keras.callbacks.ReduceLROnPlateau(" + ", ".join(
            f"{k}={v!r}" for k, v in training.reduce_lr.items()) + ")")
    lines = [f'"""{graph.name}: exported from LayerLoom ({flavour} flavour)."""',
             HEADER[flavour], f"INPUT_SHAPE = {in_shape!r}", "", *model_code(graph), "",
             f"model.compile(optimizer=keras.optimizers.{_optimizer_class(training.optimizer)}"
             f"({opt_args}), loss={training.loss!r}, metrics={list(training.metrics)!r})"]
    if weights_path:
        lines.append(f"model.load_weights({str(weights_path)!r})")
    lines += ["", *_data_code(data_source, flavour), "", "",
              "if __name__ == '__main__':",
              "    (x_train, y_train), (x_test, y_test) = load_data()",
              f"    model.fit(x_train, y_train, batch_size={training.batch_size}, "
              f"epochs={training.epochs}, validation_split={training.validation_split}, "
              f"callbacks=[{', '.join(cbs)}])",
              "    if len(x_test):",
              "        print('test:', model.evaluate(x_test, y_test, verbose=0))", ""]
    return "\n".join(lines)


def _optimizer_class(name: str) -> str:
    from engine import optimizers
    return type(optimizers.get(name)).__name__
