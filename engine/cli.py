"""``layerloom-cli``: LayerLoom without a screen (terminals, servers, CI). Qt-free.

    layerloom-cli info FILE                       project (.loom) or Keras model (.keras/.h5)
    layerloom-cli train PROJECT [--epochs N] [--backend engine|keras] [--devices N]
                                  [--out OUT.loom]
    layerloom-cli evaluate PROJECT
    layerloom-cli export PROJECT OUT.keras|OUT.h5|OUT.onnx|OUT.py [--flavour keras|engine]
    layerloom-cli import MODEL.keras|MODEL.h5 OUT.loom

Errors print one line on stderr and exit with status 2. Ctrl-C during ``train`` stops after the
current batch and saves what was learned. Code in files (Custom layer and Lambda nodes) runs
only with ``layerloom-cli --trust-code ...`` (Keras's ``safe_mode=False``).
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path


class CliError(Exception):
    pass


def _load_project(path: str):
    from engine.project import load_project
    return load_project(path)


def _table(rows: list[tuple]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def cmd_info(args) -> None:
    path = Path(args.file)
    if path.suffix.lower() in (".h5", ".hdf5", ".keras"):
        from engine.saving import load_model
        model = load_model(path, compile=False)
        model.summary()
        return
    project = _load_project(args.file)
    g = project.graph
    info = g.infer_shapes()
    rows = [("layer", "type", "output shape", "params")]
    order, _ = g.topological_order()
    from engine.summary import format_shape
    for nid in order:
        n, i = g.nodes[nid], info[nid]
        shape = format_shape(i.output_shape) if i.output_shapes else f"error: {i.error}"
        rows.append((n.name, n.type_name, shape, f"{i.params:,}"))
    print(f"project {path.name}: graph '{g.name}', {len(g.nodes)} layers, "
          f"{g.total_params():,} parameters")
    print(_table(rows))
    for nid, msg in g.problems():
        print(f"problem: {msg}")
    print(f"data source: {project.data_source or 'none'}")
    t = project.training
    print(f"training: {t.optimizer} {t.optimizer_args or ''} loss={t.loss} metrics={t.metrics} "
          f"batch_size={t.batch_size} epochs={t.epochs} validation_split={t.validation_split}")
    print(f"weights: {'stored' if project.weights else 'none'}; runs: {len(project.runs)}")
    for r in project.runs:
        last = {k: round(v[-1], 4) for k, v in r.history.items() if v}
        print(f"  run {r.id} {r.status} {len(next(iter(r.history.values()), []))} epochs {last}")


def _data(project):
    from engine.data import DataSource
    if not project.data_source:
        raise CliError("the project has no data source; choose one in the app's Data panel")
    return DataSource.from_dict(project.data_source).load()


def _compiled_model(project):
    from engine.graph import GraphError
    try:
        model = project.build_model()
        model.compile(**project.training.compile_args())
    except (GraphError, ValueError, TypeError) as e:
        raise CliError(f"the project's model cannot be built: {_first_line(e)}") from None
    return model


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _fit(model, *args, **kwargs):
    """``model.fit`` (or ``evaluate``) with the data/model mismatches it finds as CliError."""
    fn = kwargs.pop("_fn", model.fit)
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError) as e:
        raise CliError(_first_line(e)) from None


def _callbacks(training) -> list:
    try:
        return training.callbacks()
    except (ValueError, TypeError) as e:
        raise CliError(f"the project's callback settings: {_first_line(e)}") from None


def cmd_train(args) -> None:
    from engine.callbacks import Callback
    from engine.layers.preprocessing import adapt_normalizations
    from engine.project import RunRecord, save_project
    project = _load_project(args.project)
    t = project.training
    if args.epochs is not None:
        t.epochs = args.epochs
    if args.backend is not None:
        t.run_on = args.backend
    if args.devices is not None:
        t.devices = args.devices
    if t.devices != 1 and t.run_on != "keras":
        raise CliError(f"--devices {t.devices}: data-parallel training runs on Keras; add "
                       f"--backend keras")
    fit, backend = _fit_function(t)
    data = _data(project)
    model = _compiled_model(project)
    record = RunRecord(settings=t.to_dict(), backend=backend, devices=t.devices)

    class Interrupt(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if stop["asked"]:
                self.model.stop_training = True

    stop = {"asked": False}

    def on_sigint(signum, frame):
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        print("\nstopping after this batch (Ctrl-C again to abort without saving)",
              file=sys.stderr)

    # Normalization layers learn their statistics from the training part (Keras's
    # validation_split holds out the last samples)
    xs = data.x_train
    many = isinstance(xs, (list, tuple))
    n_fit = int(len(xs[0] if many else xs) * (1 - (t.validation_split or 0.0)))
    adapted = adapt_normalizations(model, [a[:n_fit] for a in xs] if many else xs[:n_fit])
    if adapted:
        print(f"adapted {', '.join(adapted)} to {n_fit:,} training samples", file=sys.stderr)
    old = signal.signal(signal.SIGINT, on_sigint)
    fit_started = time.perf_counter()
    try:
        hist = _fit(model, data.x_train, data.y_train, batch_size=t.batch_size,
                    epochs=t.epochs, validation_split=t.validation_split, verbose=1,
                    seed=t.seed, callbacks=[*_callbacks(t), Interrupt()],
                    _fn=lambda *a, **kw: fit(model, *a, **kw))
    finally:
        signal.signal(signal.SIGINT, old)
    record.history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    record.finished = time.time()
    record.duration = round(time.perf_counter() - fit_started, 3)
    err = getattr(model, "training_error", None)
    record.status = "diverged" if err else ("stopped" if stop["asked"] else "completed")
    record.message = str(err) if err else ""
    project.add_run(record)
    if not err:              # a diverged model's weights hold NaN/inf: keep the earlier ones
        project.store_weights(model)
    out = save_project(project, args.out or project.path)
    print(f"saved {out} ({record.status})")
    if err:
        raise CliError(str(err))


def _fit_function(t) -> tuple:
    """(fit(model, x, y, **kwargs), backend label) for where the settings say to train."""
    if t.run_on != "keras":
        return (lambda model, *a, **kw: model.fit(*a, **kw)), "engine"
    from engine.keras_backend.fit import fit
    from engine.keras_backend.probe import probe
    info = probe()
    if not info.ok:
        raise CliError(info.error)
    print(f"training on {info.describe()}", file=sys.stderr)
    return (lambda model, *a, **kw: fit(model, *a, devices=t.devices, **kw)), \
        f"keras/{info.backend}"


def cmd_evaluate(args) -> None:
    project = _load_project(args.project)
    if not project.weights:
        print("note: the project has no trained weights; evaluating the initial model",
              file=sys.stderr)
    data = _data(project)
    model = _compiled_model(project)
    x, y = (data.x_test, data.y_test) if data.x_test is not None else (data.x_train, data.y_train)
    which = "test" if data.x_test is not None else "training"
    logs = _fit(model, x, y, verbose=0, return_dict=True, _fn=model.evaluate)
    print(f"{which} set ({len(x):,} samples): " +
          ", ".join(f"{k} {v:.4f}" for k, v in logs.items()))


def cmd_export(args) -> None:
    project = _load_project(args.project)
    out = Path(args.out)
    if out.suffix.lower() in (".keras", ".h5"):
        model = _compiled_model(project)
        model.save(out)
    elif out.suffix.lower() == ".onnx":
        from engine.io.onnx_export import export_onnx
        export_onnx(project.build_model(), out)
    elif out.suffix.lower() == ".py":
        from engine.io.script_export import export_script
        written = export_script(project, out, flavour=args.flavour)
        for extra in written[1:]:
            print(f"wrote {extra}")
    else:
        raise CliError(f"{out.name}: export to .keras (Keras 3 model), .h5 (legacy Keras "
                       f"model), .onnx (ONNX) or .py (Keras script)")
    print(f"wrote {out}")


def cmd_import(args) -> None:
    from engine.graph import document_from_model
    from engine.project import Project, TrainingConfig, save_project
    from engine.saving import load_model
    model = load_model(args.model)
    project = Project(document_from_model(model))
    project.store_weights(model)
    project.training = TrainingConfig.from_model(model)
    out = save_project(project, args.out)
    print(f"wrote {out}: {len(project.graph.nodes)} layers")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="layerloom-cli", description=__doc__.splitlines()[0])
    ap.add_argument("--trust-code", action="store_true", help="run the Python code that "
                    "Custom layer and Lambda nodes in the file hold (only for files you trust)")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="describe a project or a Keras model (.keras or .h5)")
    p.add_argument("file")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("train", help="train a project on its data source")
    p.add_argument("project")
    p.add_argument("--epochs", type=int)
    p.add_argument("--backend", choices=("engine", "keras"),
                   help="train on LayerLoom's engine or on Keras 3 (default: the project's "
                        "setting)")
    p.add_argument("--devices", type=int,
                   help="data-parallel devices when training on Keras (default: the project's "
                        "setting)")
    p.add_argument("--out")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("evaluate", help="evaluate a project's model on its test data")
    p.add_argument("project")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("export", help="export a project as a Keras model (.keras, .h5), an "
                                      "ONNX model (.onnx) or a .py script")
    p.add_argument("project")
    p.add_argument("out")
    p.add_argument("--flavour", choices=("keras", "engine"), default="keras")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("import", help="turn a Keras model (.keras or .h5) into a project")
    p.add_argument("model")
    p.add_argument("out")
    p.set_defaults(func=cmd_import)
    return ap


def _file_errors() -> tuple[type[BaseException], ...]:
    """What a command may fail with and the user can fix: the readers' own error types, the
    script exporter's, the system's, and ours. Anything else is a bug and keeps its
    traceback."""
    from engine.data.errors import DataError
    from engine.io.errors import ModelFileError
    from engine.io.pysource import ScriptValueError
    from engine.project.project import ProjectError
    return (CliError, ProjectError, ModelFileError, DataError, ScriptValueError, OSError)


def main(argv=None) -> int:
    errors = _file_errors()
    args = build_parser().parse_args(argv)
    from contextlib import nullcontext

    from engine.saving.safe_mode import CodeAllowed, UnsafeCodeError
    try:
        with CodeAllowed() if args.trust_code else nullcontext():
            args.func(args)
    except UnsafeCodeError as e:
        print(f"layerloom-cli: {str(e).splitlines()[0].split('. If you trust')[0]}; if you "
              f"trust the file, run layerloom-cli --trust-code {' '.join(argv or sys.argv[1:])}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("layerloom-cli: interrupted", file=sys.stderr)
        return 130
    except errors as e:
        print(f"layerloom-cli: {_first_line(e)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
