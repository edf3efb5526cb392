"""Render the training screenshots in docs/ (offscreen, no display needed):

    .venv/bin/python docs/make_training_screenshots.py

``training_dashboard.png``: the seed MNIST CNN (examples/mnist_cnn.loom, bundled MNIST) in its
third epoch, crosshair on; ``training_evaluation.png`` / ``training_confusion.png`` /
``training_worst.png``: its evaluation on the 10,000 official test images;
``training_activations.png``: the first convolution's feature maps for one test digit.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))        # run as a script from anywhere
    from app.theme import apply_theme, get_theme
    from app.training.controller import TrainingController
    from engine.project import load_project

    app = QApplication.instance() or QApplication([])
    apply_theme(app, get_theme("light"))
    project = load_project(ROOT / "examples" / "mnist_cnn.loom")
    project.training.epochs = 4
    project.training.seed = 3
    window = QMainWindow()
    c = TrainingController(window, lambda: project)
    c.project_changed()
    for w in (c.dashboard, c.evaluation, c.activations):
        w.setParent(None)                         # top-level windows for grab()
    c.dashboard.resize(1500, 820)
    c.dashboard.show()
    out = ROOT / "docs"
    loop = QEventLoop()
    shot = {"done": False}

    def mid_training(epoch: int, _logs) -> None:
        if epoch == 1 and not shot["done"]:
            shot["done"] = True
            QTimer.singleShot(2500, grab_dashboard)

    def grab_dashboard() -> None:
        c.dashboard.redraw()
        for name in ("accuracy",):           # the loss plot keeps its legend visible
            c.dashboard.plots[name].show_crosshair(2.3)
        app.processEvents()
        c.dashboard.grab().save(str(out / "training_dashboard.png"))
        print("wrote docs/training_dashboard.png")

    class Slots(QObject):                        # receivers in the GUI thread
        def epoch_end(self, epoch, logs):
            mid_training(epoch, logs)

    slots = Slots()
    c.run_finished.connect(lambda _o: loop.quit())
    assert c.train(), "training did not start"
    c.worker.epoch_end.connect(slots.epoch_end)
    loop.exec()

    ev = c.evaluation
    ev.resize(1100, 760)
    ev.show()
    for tab, name in ((0, "training_evaluation"), (1, "training_confusion"),
                      (3, "training_worst")):
        ev.tabs.setCurrentIndex(tab)
        for _ in range(3):
            app.processEvents()
        ev.grab().save(str(out / f"{name}.png"))
        print(f"wrote docs/{name}.png")
    act = c.activations
    act.resize(900, 560)
    act.show()
    act.select_layer("conv2d")
    act.sample_box.setValue(3)
    for _ in range(3):
        app.processEvents()
    act.grab().save(str(out / "training_activations.png"))
    print("wrote docs/training_activations.png")


if __name__ == "__main__":
    main()
