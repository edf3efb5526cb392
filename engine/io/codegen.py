"""Export a graph as a runnable Python script: Keras (for TensorFlow/Keras, distributed training)
or the engine flavour (the same code on LayerLoom's engine).

The script defines the model with the Functional API (parameters that differ from the defaults
only), compiles it with the project's settings, optionally loads exported weights, and trains on
the project's data when the data source is one a script can read by itself (bundled MNIST, a
data set Keras downloads, an .npz file); otherwise ``load_data`` says what to fill in.

Projects and model files are hostile until checked, so every piece of their text goes into the
script through :mod:`engine.io.pysource`: layer types, initializers, optimizers, losses, metrics,
data set names and callback arguments are checked against the engine's own tables, everything
else is a ``repr`` of a plain literal. A value that fails raises :class:`ScriptValueError`.
The one exception, the user's own trusted code (Custom layer and Lambda nodes), goes through
:mod:`engine.io.code_export`.
"""
from __future__ import annotations

import builtins
import re
from typing import Any

from engine.io import code_export
from engine.io.pysource import (
    ScriptValueError,
    accepted_arguments,
    call,
    keyword_args,
    known_name,
    literal,
    variable_name,
)
from engine.registry import get_spec, serialize_value

__all__ = ["ScriptValueError", "keras_script", "layer_call", "model_code"]

HEADER = {
    "keras": "import keras\nfrom keras import layers\n",
    "engine": ("import engine as keras  # LayerLoom's Keras-compatible engine\n"
               "import engine.callbacks\nimport engine.constraints\nimport engine.initializers\n"
               "import engine.models\nimport engine.optimizers\nimport engine.regularizers\n"
               "import engine.utils\nfrom engine import layers\n"),
}
# names the script itself defines or imports; a layer's variable never takes one of them
RESERVED = frozenset({"keras", "layers", "model", "engine", "np", "load_data", "INPUT_SHAPE",
                      "x_train", "y_train", "x_test", "y_test", "d"}) | frozenset(dir(builtins))
CALLBACKS = ("EarlyStopping", "ReduceLROnPlateau")


def _table(kind: str) -> dict[str, type]:
    """The engine's class table of an object kind: ``{"GlorotUniform": GlorotUniform, ...}``."""
    import importlib
    return importlib.import_module(f"engine.{kind}s").CLASSES


def _param_code(kind: str, value: Any, what: str) -> str:
    """Source of one layer argument: a known initializer/regularizer/constraint class with
    its checked config, or a plain literal (shapes as tuples)."""
    if kind in ("initializer", "regularizer", "constraint") and isinstance(value, dict):
        classes = _table(kind)
        name = known_name(value.get("class_name"), classes, f"{what}: {kind} class")
        config = value.get("config") or {}
        args = keyword_args(config, f"{what}: {name}", accepted_arguments(classes[name]))
        return call(f"keras.{kind}s.{name}", kwargs=args)
    return literal(value, what, tuples=True)


def layer_call(node) -> str:
    """``layers.Dense(units=10, activation='softmax', name='out')`` for one graph node."""
    spec = get_spec(node.type_name)
    if spec.type_name == "CustomLayer":
        return code_export.custom_layer_call(node, call, literal)
    defaults = {p.name: p for p in spec.params}
    args = []
    for name, value in node.params.items():
        p = defaults.get(name)
        if p is None or name == "data_format":
            continue
        if value == serialize_value(p, p.default) or (value is None and p.default is None):
            continue
        if p.kind == "function":
            args.append(f"{name}={code_export.lambda_code(value, f'layer {node.name!r}')}")
            continue
        args.append(f"{name}={_param_code(p.kind, value, f'layer {node.name!r} {name}')}")
    args.append(f"name={literal(node.name, 'layer name')}")
    return call(f"layers.{spec.type_name}", kwargs=args)


def model_code(graph) -> list[str]:
    order, cyclic = graph.topological_order()
    if cyclic:
        raise ValueError("the graph has a cycle; fix it before exporting")
    used: set[str] = {n.params.get("class_name") for n in graph.nodes.values()
                      if n.type_name == "CustomLayer"} - {None}   # (classes defined above)
    var: dict[str, str] = {}
    lines = []
    for nid in order:
        node = graph.nodes[nid]
        v = var[nid] = variable_name(node.name, used, RESERVED)
        if node.type_name == "InputLayer":
            what = f"input {node.name!r}"
            args = [f"shape={literal(tuple(node.params.get('shape') or ()), what + ' shape')}"]
            dtype = node.params.get("dtype")
            if dtype and dtype != "float32":
                args.append(f"dtype={literal(dtype, what + ' dtype')}")
            args.append(f"name={literal(node.name, 'layer name')}")
            lines.append(f"{v} = {call('keras.Input', kwargs=args)}")
            continue
        srcs = [var[e.src] + (f"[{literal(e.src_port, 'port')}]"
                              if graph.output_port_count(e.src) > 1 else "")
                for e in graph.in_edges(nid)]
        arg = f"[{', '.join(srcs)}]" if (node.spec.n_inputs or 2) > 1 else (srcs[0] if srcs
                                                                            else "None")
        lines.append(f"{v} = {layer_call(node)}({arg})")
    ins = [var[n.id] for n in graph.input_nodes()]
    outs = [var[n.id] for n in graph.output_nodes()]
    fmt = (lambda xs: xs[0] if len(xs) == 1 else f"[{', '.join(xs)}]")
    lines.append("model = " + call("keras.models.Model", kwargs=[
        f"inputs={fmt(ins)}", f"outputs={fmt(outs)}", f"name={literal(graph.name, 'model name')}"]))
    return lines


def _data_code(data_source: dict | None, flavour: str, data_file: str | None
               ) -> tuple[list[str], list[str]]:
    """(module-level helper lines, ``load_data`` lines) for the project's data source."""
    from engine.io.script_data import BY_PATH, beside_lines, by_path_lines
    source = data_source if isinstance(data_source, dict) else {}
    if data_file is not None:
        return [], beside_lines(data_file)
    if source.get("kind") in BY_PATH and (source.get("kind") != "keras_dataset" or
                                          not source.get("path")):
        try:
            return by_path_lines(source)
        except (OSError, ValueError) as e:    # an unreadable file: say so where data goes
            if isinstance(e, ScriptValueError):
                raise
            return [], _load_lines_failed(f"the data source could not be read ({e})")
    lines = _load_lines(source, flavour)
    if source.get("one_hot") and source.get("kind") in ("bundled", "keras_dataset", "npz"):
        ret = lines.pop()
        lines += ["    y_train = keras.utils.to_categorical(y_train)",
                  "    y_test = keras.utils.to_categorical(y_test, y_train.shape[-1])", ret]
    return [], lines


def _load_lines_failed(message: str) -> list[str]:
    return ["def load_data():", f"    raise SystemExit({literal(message, 'data message')})"]


def _load_lines(source: dict, flavour: str) -> list[str]:
    from engine.datasets.catalog import DATASETS
    kind, scale, name = source.get("kind"), source.get("scale"), source.get("name")
    imports, loader = [], None
    if kind == "bundled" and name == "mnist":
        if flavour == "keras":
            loader = "keras.datasets.mnist.load_data()"
        else:
            imports = ["    from engine.datasets.bundled import mnist_subset"]
            loader = "mnist_subset()"
    elif kind == "keras_dataset" and isinstance(name, str) and name in DATASETS and \
            not source.get("path"):
        loader = call(f"keras.datasets.{known_name(name, DATASETS, 'data set')}.load_data")
    if loader is not None:
        return ["def load_data():", *imports,
                f"    (x_train, y_train), (x_test, y_test) = {loader}",
                "    x_train = x_train.reshape((len(x_train),) + INPUT_SHAPE) / 255.0",
                "    x_test = x_test.reshape((len(x_test),) + INPUT_SHAPE) / 255.0",
                "    return (x_train, y_train), (x_test, y_test)"]
    if kind == "npz":
        path = literal(str(source.get("path")), "data file path")
        factor = ""
        if isinstance(scale, (int, float)) and not isinstance(scale, bool):
            factor = f" * {literal(float(scale), 'data scale')}"
        return ["def load_data():",
                "    import numpy as np",
                f"    d = np.load({path}, allow_pickle=False)",
                f"    x_train, y_train = d['x_train']{factor}, d['y_train']",
                "    x_test, y_test = ((d['x_test']" + factor + ", d['y_test']) if 'x_test' in "
                "d.files else (x_train[:0], y_train[:0]))",
                "    return (x_train, y_train), (x_test, y_test)"]
    what = f"a {kind} source" if isinstance(kind, str) and kind else "no source yet"
    message = (f"load_data: this project reads its data from {what}; put your arrays here and "
               f"return (x_train, y_train), (x_test, y_test)")
    return ["def load_data():", f"    raise SystemExit({literal(message, 'data source kind')})"]


def _compile_line(training) -> str:
    from engine import losses, metrics, optimizers
    opt_cls = _optimizer_class(training.optimizer)
    opt_args = keyword_args(training.optimizer_args or {}, f"optimizer {opt_cls}",
                            accepted_arguments(optimizers.CLASSES[opt_cls]))
    loss = known_name(training.loss, set(losses.NAMES) | set(losses.CLASSES), "loss")
    metric_names = set(metrics.NAMES) | set(metrics.CLASSES)
    if not isinstance(training.metrics, (list, tuple)):
        raise ScriptValueError(f"metrics: expected a list of names, got {training.metrics!r}")
    chosen = [known_name(m, metric_names, "metric") for m in training.metrics]
    return call("model.compile", kwargs=[
        f"optimizer={call(f'keras.optimizers.{opt_cls}', kwargs=opt_args)}",
        f"loss={literal(loss)}", f"metrics={literal(chosen)}"])


def _optimizer_class(name: Any) -> str:
    from engine import optimizers
    try:
        cls = type(optimizers.get(name))
    except (ValueError, TypeError):
        cls = None
    return known_name(getattr(cls, "__name__", name), optimizers.CLASSES, "optimizer")


def _callbacks(training) -> list[str]:
    from engine import callbacks
    out = []
    for name, args in zip(CALLBACKS, (training.early_stopping, training.reduce_lr)):
        if args is not None:
            cls = getattr(callbacks, name)
            out.append(call(f"keras.callbacks.{name}",
                            kwargs=keyword_args(args, name, accepted_arguments(cls))))
    return out


def _callback_list(calls: list[str], keras_flavour: bool) -> str:
    """The fit call's callbacks: the project's, and on Keras the ones --distribute needs."""
    listed = f"[{', '.join(calls)}]"
    if not keras_flavour:
        return listed
    return f"{listed} + in_order" if calls else "in_order"


SAFE_FILE = re.compile(r"[A-Za-z0-9_.-]{1,100}\Z")
USAGE = """
# Run:   python {file} [--epochs N]{distribute}
#
# It builds the model, loads the weights saved beside it (when the project had trained
# weights), compiles it with the project's settings, trains on the project's data and prints
# the test metrics.{distribute_doc}
"""
DISTRIBUTE_DOC = """
#
# --distribute: data-parallel training over every device Keras sees — each batch is split
# across them: keras.distribution.DataParallel on JAX (KERAS_BACKEND=jax), MirroredStrategy
# on TensorFlow (several GPUs of one machine). On several machines (TensorFlow), start the
# script on each with TF_CONFIG naming the cluster and this machine's place in it, e.g.
#   TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
#               "task": {"type": "worker", "index": 0}}' python {file} --distribute
# (index 1 on host2); --distribute then uses MultiWorkerMirroredStrategy. The batch size is
# per step over all devices: keep it a multiple of the number of devices."""
DISTRIBUTION = '''

def distribution_scope(distribute):
    """Where the model is built and trained: one device, or data-parallel over all."""
    if not distribute:
        return contextlib.nullcontext()
    backend = keras.backend.backend()
    if backend == "jax":
        return keras.distribution.DataParallel(
            devices=keras.distribution.list_devices()).scope()
    if backend == "tensorflow":
        import tensorflow as tf
        if os.environ.get("TF_CONFIG"):
            return tf.distribute.MultiWorkerMirroredStrategy().scope()
        return tf.distribute.MirroredStrategy().scope()
    raise SystemExit("--distribute needs the JAX or TensorFlow backend (KERAS_BACKEND)")


def split_evenly(x, y, distribute):
    """JAX splits every batch evenly over the devices: leave out the few samples of a last
    batch that would not split."""
    if not distribute or keras.backend.backend() != "jax" or x is None:
        return x, y
    devices = len(keras.distribution.list_devices())
    keep = len(x) - (len(x) % BATCH_SIZE) % devices
    return x[:keep], y[:keep]


def logs_on_this_thread(batch, logs):
    """A batch-end hook that does nothing: see distribution_callbacks."""
    return None


def distribution_callbacks(distribute):
    """On JAX over several CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count=N),
    Keras reading each batch's logs on helper threads can stall XLA's all-reduce for good
    (Keras 3.15, JAX 0.10: 3 runs in 8 aborted on a 2-core machine); a callback with
    batch-end hooks keeps those reads on the training thread."""
    if not distribute or keras.backend.backend() != "jax":
        return []
    cpus = [d for d in keras.distribution.list_devices() if d.startswith("cpu")]
    if len(cpus) < 2:
        return []
    return [keras.callbacks.LambdaCallback(on_train_batch_end=logs_on_this_thread,
                                           on_test_batch_end=logs_on_this_thread)]
'''


def keras_script(graph, training, weights_path: str | None = None, flavour: str = "keras",
                 data_source: dict | None = None, data_file: str | None = None,
                 script_name: str = "script.py") -> str:
    """The Python source of a script that rebuilds, compiles and trains ``graph``.

    ``weights_path`` and ``data_file`` are file names beside the script (its trained weights,
    and the arrays of a data source it cannot read by itself); ``script_name`` appears in the
    usage comment. Raises :class:`ScriptValueError` when a name or value from the project
    cannot be written safely (an unknown optimizer, a callback argument that is not a Python
    name ...).
    """
    if flavour not in HEADER:
        raise ValueError(f"flavour must be 'keras' or 'engine', got {flavour!r}")
    keras_flavour = flavour == "keras"
    first = graph.input_nodes()
    in_shape = tuple(first[0].params.get("shape") or ()) if first else ()
    title = f"{graph.name}: exported from LayerLoom ({flavour} flavour)."
    classes, _ = code_export.class_definitions(graph)
    code_header = [code_export.CODE_IMPORTS[flavour], *classes] \
        if code_export.code_nodes(graph) else []
    file = script_name if isinstance(script_name, str) and SAFE_FILE.match(script_name) \
        else "script.py"                                  # a comment: plain names only
    usage = USAGE.format(file=file, distribute=" [--distribute]" if keras_flavour else "",
                         distribute_doc=DISTRIBUTE_DOC.replace("{file}", file)
                         if keras_flavour else "")
    helpers, load = _data_code(data_source, flavour, data_file)
    weights = None if not weights_path else literal(str(weights_path), "weights path")
    lines = [literal(title, "model name"), usage.rstrip(),
             "import argparse\nimport contextlib\nimport os\nimport pathlib\n",
             "import numpy as np", HEADER[flavour], *code_header,
             "HERE = pathlib.Path(__file__).resolve().parent",
             f"INPUT_SHAPE = {literal(in_shape, 'input shape')}",
             f"EPOCHS = {literal(training.epochs, 'epochs')}",
             f"BATCH_SIZE = {literal(training.batch_size, 'batch_size')}",
             f"VALIDATION_SPLIT = {literal(training.validation_split, 'validation_split')}",
             f"WEIGHTS = {weights}", *helpers, "", "",
             "def build_model():",
             *("    " + line for line in model_code(graph)),
             "    " + _compile_line(training), "    return model", "", "", *load, ""]
    if keras_flavour:
        lines.append(DISTRIBUTION)
    fit = call("model.fit", "x_train", "y_train", kwargs=[
        "batch_size=BATCH_SIZE", "epochs=args.epochs", "validation_data=validation",
        f"callbacks={_callback_list(_callbacks(training), keras_flavour)}", "verbose=2"])
    scope = "distribution_scope(args.distribute)" if keras_flavour else \
        "contextlib.nullcontext()"
    even = "split_evenly({}, args.distribute)" if keras_flavour else "{}"
    lines += [
        "", "def main():",
        "    parser = argparse.ArgumentParser(description=__doc__)",
        "    parser.add_argument('--epochs', type=int, default=EPOCHS,",
        "                        help='epochs to train (default: the project\\'s)')",
        *(["    parser.add_argument('--distribute', action='store_true',",
           "                        help='data-parallel training over every device')"]
          if keras_flavour else []),
        "    args = parser.parse_args()",
        *(["    in_order = distribution_callbacks(args.distribute)"] if keras_flavour else []),
        "    (x_train, y_train), (x_test, y_test) = load_data()",
        "    # Keras's validation_split: the last samples of the training data",
        "    cut = int(len(x_train) * (1.0 - VALIDATION_SPLIT))",
        "    validation = None",
        "    if VALIDATION_SPLIT:",
        f"        validation = {even.format('x_train[cut:], y_train[cut:]')}",
        f"    x_train, y_train = {even.format('x_train[:cut], y_train[:cut]')}",
        f"    with {scope}:",
        "        model = build_model()",
        "        if WEIGHTS is not None and (HERE / WEIGHTS).exists():",
        *(["            model.optimizer.build(model.trainable_variables)  # its state, too"]
          if keras_flavour else []),
        "            model.load_weights(HERE / WEIGHTS)",
        f"        history = {fit}",
        "    print('history:', history.history)",
        "    if len(x_test):",
        "        test = " + call("model.evaluate", "x_test", "y_test", kwargs=[
            "verbose=0", "return_dict=True", *(["callbacks=in_order"] if keras_flavour else [])]),
        "        print('test:', test)",
        "", "", "if __name__ == '__main__':", "    main()", ""]
    return "\n".join(lines)
