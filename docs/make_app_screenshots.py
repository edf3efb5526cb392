"""Render the README's screenshots of the start page, the Runs panel and the Try it panel
(offscreen, no display needed; takes a minute or two — it trains the MNIST MLP example):

    .venv/bin/python docs/make_app_screenshots.py

``start_page.png``: the window at start-up, with two recent projects and the examples'
thumbnails; ``try_it.png``: the MNIST MLP in its third epoch with a hand-drawn 7 in the Try it
panel, predicted from a snapshot of the weights being trained; ``runs_panel.png``: four runs of
that project (other learning rate and batch size, one stopped early), two of them selected and
overlaid on the loss and accuracy plots.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZE = (1600, 1000)


def settle(app, n: int = 5) -> None:
    for _ in range(n):
        app.processEvents()


def save(widget, path: Path) -> None:
    if not widget.grab().save(str(path), "PNG"):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path.relative_to(ROOT)}")


def draw_seven(pad) -> None:
    """A handwritten-looking 7 in the pad's 280×280 drawing pixels."""
    from PySide6.QtCore import QPointF
    top = [(78, 70), (120, 66), (165, 64), (205, 66)]
    stem = [(200, 78), (185, 120), (168, 165), (152, 210), (142, 236)]
    for k, (x, y) in enumerate(top + stem):
        pad.add_point(QPointF(x, y), new_stroke=k == 0)


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer

    from app.canvas.thumbnails import ThumbnailCache
    from app.main import create_window, make_application, parse_args
    out = ROOT / "docs"
    tmp = Path(tempfile.mkdtemp())
    app = make_application()
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    window = create_window(parse_args(["--theme", "light"]), settings=settings)
    window.start_page.page.cache = ThumbnailCache(tmp / "thumbnails")
    for name in ("imdb_lstm.loom", "mnist_cnn.loom"):
        window.file_ops.add_recent(str(ROOT / "examples" / name))
    window.file_ops.ask_save_changes = lambda: "discard"
    window.resize(*SIZE)
    window.show()
    window.start_page.show()
    page = window.start_page.page
    while page.thumbnails_pending():
        settle(app, 1)
    settle(app)
    save(window, out / "start_page.png")

    window.file_ops.open_example(ROOT / "examples" / "mnist_mlp.loom")
    c = window.training
    project = window.project
    project.training.epochs, project.training.seed = 3, 7
    settle(app)
    c.docks["try_it"].show()
    c.docks["try_it"].raise_()
    window.resizeDocks([c.docks["try_it"]], [560], Qt.Orientation.Horizontal)
    settle(app)
    draw_seven(c.try_it.pad)
    loop = QEventLoop()
    c.run_finished.connect(lambda _o: loop.quit())
    shot = {"done": False}

    def grab_try_it() -> None:
        if shot["done"] or not c.is_running:
            return
        shot["done"] = True
        c.dashboard.redraw()
        settle(app)
        save(window, out / "try_it.png")

    # an epoch of the MLP takes well under a second here: ask for snapshots every 100 ms (the
    # panel's own pace is 500 ms) and take the picture once one from epoch 3 is shown
    c.try_it._snapshot_timer.setInterval(100)
    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(lambda: "epoch 3," in c.try_it.status.text() and grab_try_it())

    assert c.train(), "training did not start"
    poll.start()
    loop.exec()
    poll.stop()

    # more runs with other settings (on 6,000 of the images, to be quick): a smaller learning
    # rate, bigger batches, one stopped after its first epoch
    from app.training.run_setup import DataArrays
    from engine.datasets import bundled
    (x, y), (xt, yt) = bundled.mnist_subset()
    c.use_data(DataArrays(x[:6000] / 255.0, y[:6000], xt / 255.0, yt,
                          [str(i) for i in range(10)]))
    runs = [("lr 1e-4", {"optimizer_args": {"learning_rate": 1e-4}}, None),
            ("batch 256", {"optimizer_args": {}, "batch_size": 256}, None),
            ("stopped", {"batch_size": 32}, 1)]
    for name, settings_change, stop_after in runs:
        c.reset()
        for key, value in settings_change.items():
            setattr(project.training, key, value)
        assert c.train(), "training did not start"
        if stop_after is not None:
            def stop_at(epoch, _logs, n=stop_after):
                if epoch + 1 >= n:
                    c.stop()
            c.worker.epoch_end.connect(stop_at)
        loop.exec()
        project.runs[-1].name = name
    project.runs[0].name = "baseline"
    project.runs[0].note = "adam 1e-3, batch 32, all 21,600 images"
    project.runs[2].note = "fewer, larger steps"
    c.runs_panel.refresh()
    # the Training and Runs docks one above the other (the other bottom docks closed)
    runs_dock, dash_dock = c.docks["runs"], c.docks["dashboard"]
    for dock in [window.docks["problems"], window.docks["log"]] + \
            [c.docks[k] for k in ("evaluation", "activations", "training_log")]:
        dock.hide()
    for dock in (dash_dock, runs_dock):
        window.removeDockWidget(dock)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dash_dock)
    window.splitDockWidget(dash_dock, runs_dock, Qt.Orientation.Vertical)
    for dock in (dash_dock, runs_dock):
        dock.show()
    window.resize(*SIZE)
    window.resizeDocks([dash_dock, runs_dock], [400, 230], Qt.Orientation.Vertical)
    settle(app)
    c.runs_panel.select_ids({str(project.runs[0].id), str(project.runs[2].id)})
    c.runs_panel.overlays_chosen.emit(c.runs_panel.selected_ids())
    settle(app, 10)
    save(window, out / "runs_panel.png")
    window.close()


if __name__ == "__main__":
    main()
