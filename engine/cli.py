"""``layerloom-cli``: LayerLoom without a screen (terminals, servers, CI). Qt-free.

    layerloom-cli info FILE                       project (.loom) or Keras model (.h5)
    layerloom-cli train PROJECT [--epochs N] [--out OUT.loom]
    layerloom-cli evaluate PROJECT
    layerloom-cli export PROJECT OUT.h5|OUT.py [--flavour keras|engine]
    layerloom-cli import MODEL.h5 OUT.loom

Errors print one line on stderr and exit with status 2. Ctrl-C during ``train`` stops after the
current batch and saves what was learned.
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
        from engine.io.keras_h5 import load_model
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
    model = project.build_model()
    model.compile(**project.training.compile_args())
    return model


def cmd_train(args) -> None:
    from engine.callbacks import Callback
    from engine.layers.preprocessing import adapt_normalizations
    from engine.project import RunRecord, save_project
    project = _load_project(args.project)
    if args.epochs is not None:
        project.training.epochs = args.epochs
    data = _data(project)
    model = _compiled_model(project)
    t = project.training
    record = RunRecord(settings=t.to_dict())

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
        hist = model.fit(data.x_train, data.y_train, batch_size=t.batch_size, epochs=t.epochs,
                         validation_split=t.validation_split, verbose=1, seed=t.seed,
                         callbacks=[*t.callbacks(), Interrupt()])
    finally:
        signal.signal(signal.SIGINT, old)
    record.history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    record.finished = time.time()
    record.duration = round(time.perf_counter() - fit_started, 3)
    err = getattr(model, "training_error", None)
    record.status = "diverged" if err else ("stopped" if stop["asked"] else "completed")
    record.message = str(err) if err else ""
    project.add_run(record)
    project.store_weights(model)
    out = save_project(project, args.out or project.path)
    print(f"saved {out} ({record.status})")
    if err:
        raise CliError(str(err))


def cmd_evaluate(args) -> None:
    project = _load_project(args.project)
    if not project.weights:
        print("note: the project has no trained weights; evaluating the initial model",
              file=sys.stderr)
    data = _data(project)
    model = _compiled_model(project)
    x, y = (data.x_test, data.y_test) if data.x_test is not None else (data.x_train, data.y_train)
    which = "test" if data.x_test is not None else "training"
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    print(f"{which} set ({len(x):,} samples): " +
          ", ".join(f"{k} {v:.4f}" for k, v in logs.items()))


def cmd_export(args) -> None:
    project = _load_project(args.project)
    out = Path(args.out)
    if out.suffix.lower() == ".h5":
        model = _compiled_model(project)
        model.save(out)
    elif out.suffix.lower() == ".py":
        from engine.io.atomic import atomic_path
        from engine.io.codegen import keras_script
        text = keras_script(project.graph, project.training, flavour=args.flavour,
                            data_source=project.data_source)
        with atomic_path(out) as tmp:
            tmp.write_text(text)
    else:
        raise CliError(f"{out.name}: export to .h5 (Keras model) or .py (Keras script)")
    print(f"wrote {out}")


def cmd_import(args) -> None:
    from engine.graph import document_from_model
    from engine.saving import load_model
    from engine.project import Project, save_project
    model = load_model(args.model, compile=False)
    project = Project(document_from_model(model))
    project.store_weights(model)
    out = save_project(project, args.out)
    print(f"wrote {out}: {len(project.graph.nodes)} layers")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="layerloom-cli", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="describe a project or a Keras .h5 model")
    p.add_argument("file")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("train", help="train a project on its data source")
    p.add_argument("project")
    p.add_argument("--epochs", type=int)
    p.add_argument("--out")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("evaluate", help="evaluate a project's model on its test data")
    p.add_argument("project")
    p.set_defaults(func=cmd_evaluate)
    p = sub.add_parser("export", help="export a project as a Keras .h5 model or a .py script")
    p.add_argument("project")
    p.add_argument("out")
    p.add_argument("--flavour", choices=("keras", "engine"), default="keras")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("import", help="turn a Keras .h5 model into a project")
    p.add_argument("model")
    p.add_argument("out")
    p.set_defaults(func=cmd_import)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("layerloom-cli: interrupted", file=sys.stderr)
        return 130
    except (CliError, ValueError, OSError, KeyError, RuntimeError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"layerloom-cli: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
