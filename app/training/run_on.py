"""The "Run on" group of the training settings: LayerLoom's engine (built in) or Keras 3, and on
Keras the number of data-parallel devices.

Whether Keras is installed is known without importing it; which backend it runs on and which
devices it sees needs the import (seconds), so it is asked on a background thread the first
time Keras is chosen — the app never imports Keras at start. Without Keras the choice is shown
disabled with the one command that installs it.
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QSpinBox, QWidget

from engine.keras_backend import INSTALL_COMMAND, keras_installed

CHOICES = (("LayerLoom engine (built in)", "engine"), ("Keras 3", "keras"))


class KerasProbe(QObject):
    """Runs ``engine.keras_backend.probe.probe()`` once on a Python thread; ``done`` carries
    its ``KerasInfo`` into the GUI thread."""

    done = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.info = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.info is not None:
            self.done.emit(self.info)
            return
        if self._thread is not None:
            return

        def work() -> None:
            from engine.keras_backend.probe import probe
            self.done.emit(probe())
        self._thread = threading.Thread(target=work, name="layerloom-keras-probe", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the probe's thread ends (tests)."""
        if self._thread is not None:
            self._thread.join(timeout)


class RunOnGroup(QGroupBox):
    """Where training runs; ``changed`` after each edit by the user."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Run on", parent)
        form = QFormLayout(self)
        self.choice = QComboBox(self)
        for text, key in CHOICES:
            self.choice.addItem(text, key)
        self.devices = QSpinBox(self)
        self.devices.setRange(1, 4096)
        self.devices.setToolTip("Data-parallel training: each batch is split over this many "
                                "devices (keras.distribution on JAX, MirroredStrategy on "
                                "TensorFlow)")
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Run on", self.choice)
        form.addRow("Devices", self.devices)
        form.addRow(self.info)
        self.installed = keras_installed()
        if not self.installed:
            item = self.choice.model().item(1)
            item.setEnabled(False)
            item.setToolTip(f"Keras 3 is not installed: {INSTALL_COMMAND}")
        self.probe = KerasProbe(self)
        self.probe.done.connect(self._probed)
        self.choice.currentIndexChanged.connect(self._chosen)
        self.devices.valueChanged.connect(self._devices_edited)
        self._loading = False
        self._show_state()

    # ------------------------------------------------------------ values
    @property
    def run_on(self) -> str:
        return self.choice.currentData()

    def set_values(self, run_on: str, devices: int) -> None:
        """Show stored settings (no ``changed``)."""
        self._loading = True
        try:
            self.choice.setCurrentIndex(max(0, self.choice.findData(run_on)))
            self.devices.setValue(int(devices))
        finally:
            self._loading = False
        self._show_state()

    def _devices_edited(self, _value: int) -> None:
        self._show_state()
        if not self._loading:
            self.changed.emit()

    def _chosen(self, _index: int) -> None:
        self._show_state()
        if not self._loading:
            self.changed.emit()

    # ------------------------------------------------------------ what the user sees
    def _show_state(self) -> None:
        keras = self.run_on == "keras"
        self.devices.setEnabled(keras)
        if not self.installed:
            self.info.setText(f"Keras 3 is not installed. To train this graph on Keras (JAX, "
                              f"TensorFlow or PyTorch, GPUs, several devices): "
                              f"{INSTALL_COMMAND}")
        elif not keras:
            self.info.setText("Trains on this computer's CPU with LayerLoom's engine.")
        elif self.probe.info is None:
            self.info.setText("Looking for Keras...")
            self.probe.start()
        else:
            self._probed(self.probe.info)

    def _probed(self, info) -> None:
        self.probe.info = info
        if self.run_on != "keras":
            return
        if not info.ok:
            self.info.setText(f"Keras cannot be used: {info.error}")
            return
        text = info.describe()
        if self.devices.value() > len(info.devices):
            text += (f"\n{self.devices.value()} devices are set, but Keras sees "
                     f"{len(info.devices)}; training would stop with an error.")
        self.info.setText(text)
