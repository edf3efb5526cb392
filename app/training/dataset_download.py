"""The Data panel's row for Keras's downloadable data sets (MNIST, Fashion-MNIST, CIFAR-10): which
one, whether it is on disk, a download with a progress bar and Cancel, the user's own copy of
Keras's files instead, and — offline — the bundled data.

The download runs on a Python thread (``engine.datasets.catalog.load``: sha256-checked,
resumable); its progress callback only stores the latest figures, which a timer shows ten times
a second, and raises ``DownloadCancelled`` once Cancel was pressed (the partial file is kept:
the next download resumes it). The GUI thread never waits for the network.
"""
from __future__ import annotations

import threading
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.datasets import catalog
from engine.datasets.download import DatasetUnavailableError, DownloadCancelled, DownloadError

POLL_MS = 100
BUNDLED_PIXELS = 28 * 28          # what the bundled MNIST offers a network's input


class DownloadThread(threading.Thread):
    """Loads one data set (downloading what is missing); read ``done``/``error`` after it."""

    def __init__(self, name: str):
        super().__init__(name=f"download-{name}", daemon=True)
        self.dataset = name
        self.cancel = threading.Event()
        self.progress: tuple[str, int, int | None] | None = None
        self.error: BaseException | None = None
        self.started_at = time.monotonic()

    def run(self) -> None:
        def report(fname: str, done: int, total: int | None) -> None:
            self.progress = (fname, done, total)
            if self.cancel.is_set():
                raise DownloadCancelled
        try:
            catalog.load(self.dataset, progress=report)
        except BaseException as e:  # noqa: BLE001 - reported in the GUI thread
            self.error = e


class DatasetDownloadRow(QWidget):
    """Choose a downloadable data set and get it onto the disk."""

    changed = Signal()             # another data set was chosen
    ready = Signal()               # the chosen data set is on disk now: read it
    use_bundled = Signal()         # offline: the user takes the bundled MNIST instead
    copy_chosen = Signal(str)      # the user pointed to their own copy of Keras's files

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.thread: DownloadThread | None = None
        self.input_pixels: int | None = None     # the network's input size, for the offer
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.name_box = QComboBox(self)
        for d in catalog.DATASETS.values():
            self.name_box.addItem(d.title, d.name)
            self.name_box.setItemData(self.name_box.count() - 1, d.description,
                                      Qt.ItemDataRole.ToolTipRole)
        self.name_box.setAccessibleName("Downloadable dataset")
        top.addWidget(self.name_box, 1)
        self.download_btn = QPushButton("Download", self)
        self.cancel_btn = QPushButton("Cancel", self)
        self.copy_btn = QToolButton(self)
        self.copy_btn.setText("Use my copy…")
        self.copy_btn.setToolTip("Read your own copy of Keras's files instead of downloading")
        self.copy_btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.copy_btn)
        menu.addAction("A file…", lambda: self._choose_copy(folder=False))
        menu.addAction("A folder…", lambda: self._choose_copy(folder=True))
        self.copy_btn.setMenu(menu)
        for w in (self.download_btn, self.cancel_btn, self.copy_btn):
            top.addWidget(w)
        lay.addLayout(top)
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        lay.addWidget(self.progress)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.bundled_btn = QPushButton("Use the bundled MNIST instead", self)
        self.bundled_btn.setToolTip("24,000 training + 10,000 test images of real MNIST, "
                                    "shipped with LayerLoom (no network needed)")
        lay.addWidget(self.bundled_btn)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)
        self.name_box.currentIndexChanged.connect(lambda _: self._name_changed())
        self.download_btn.clicked.connect(self.start_download)
        self.cancel_btn.clicked.connect(self.cancel_download)
        self.bundled_btn.clicked.connect(self.use_bundled)
        self.refresh()

    # ------------------------------------------------------------ state
    def name(self) -> str:
        return self.name_box.currentData()

    def set_name(self, name: str) -> None:
        i = self.name_box.findData(name)
        if i >= 0:
            self.name_box.setCurrentIndex(i)

    @property
    def downloading(self) -> bool:
        return self.thread is not None

    def _name_changed(self) -> None:
        self.refresh()
        self.changed.emit()

    def refresh(self, message: str | None = None) -> None:
        """Buttons and status for the chosen data set (``message`` replaces the status)."""
        info = catalog.info(self.name())
        busy = self.downloading
        on_disk = catalog.is_downloaded(info.name)
        self.name_box.setEnabled(not busy)
        self.copy_btn.setEnabled(not busy)
        self.download_btn.setVisible(not busy and not on_disk)
        self.download_btn.setText(f"Download ({info.download_mb:.0f} MB)")
        self.cancel_btn.setVisible(busy)
        self.progress.setVisible(busy)
        self.bundled_btn.setVisible(False)
        if message is None:
            message = (f"{info.description}. Downloaded: read from the data set cache."
                       if on_disk else f"{info.description}. Not downloaded yet "
                       f"({info.download_mb:.1f} MB, checked with Keras's sha256), or use "
                       f"your copy ({info.local_copy}).")
        self.status.setText(message)

    # ------------------------------------------------------------ download
    def start_download(self) -> None:
        if self.downloading:
            return
        self.thread = DownloadThread(self.name())
        self.progress.setRange(0, 0)          # busy until the size is known
        self.progress.setFormat("connecting…")
        self.refresh(f"Downloading {catalog.info(self.name()).title}…")
        self.thread.start()
        self.timer.start()

    def cancel_download(self) -> None:
        if self.thread is not None:
            self.thread.cancel.set()
            self.cancel_btn.setEnabled(False)
            self.status.setText("Cancelling… (the part downloaded so far is kept)")

    def _poll(self) -> None:
        thread = self.thread
        if thread is None:
            self.timer.stop()
            return
        if thread.is_alive():
            self._show_progress(thread)
            return
        self.timer.stop()
        self.thread = None
        self.cancel_btn.setEnabled(True)
        self._finished(thread)

    def _show_progress(self, thread: DownloadThread) -> None:
        if thread.progress is None or thread.cancel.is_set():
            return
        fname, done, total = thread.progress
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{fname}: {done / 1e6:.1f} / {total / 1e6:.1f} MB")
        else:
            self.progress.setRange(0, 0)
            self.progress.setFormat(f"{fname}: {done / 1e6:.1f} MB")
        if total and done >= total:
            self.progress.setFormat(f"{fname}: checking and reading…")

    def _finished(self, thread: DownloadThread) -> None:
        e = thread.error
        title = catalog.info(thread.dataset).title
        if e is None:
            self.refresh(f"{title} is downloaded and checked.")
            self.ready.emit()
        elif isinstance(e, DownloadCancelled):
            self.refresh(f"Download of {title} cancelled; the part downloaded so far is kept "
                         f"and the next download resumes from it.")
        elif isinstance(e, DatasetUnavailableError):
            self.refresh(f"You seem to be offline: {e}")
            self._offer_bundled()
        elif isinstance(e, (DownloadError, OSError, ValueError)):
            self.refresh(f"{title} could not be downloaded: {e}")
        else:
            raise e

    def _offer_bundled(self) -> None:
        """Offline: the bundled MNIST, when it can feed this network's input."""
        fits = self.input_pixels in (None, BUNDLED_PIXELS)
        self.bundled_btn.setVisible(fits)
        if not fits:
            self.status.setText(self.status.text() + f" The bundled MNIST (28×28 grayscale) "
                                f"does not fit this network's input ({self.input_pixels:,} "
                                f"values per sample); connect to the internet or use your "
                                f"copy of Keras's files.")

    def wait(self, timeout: float | None = None) -> None:
        """Block until a running download ends (tests, closing)."""
        if self.thread is not None:
            self.thread.join(timeout)
            self._poll()

    # ------------------------------------------------------------ the user's copy
    def ask_copy_path(self, folder: bool) -> str:
        info = catalog.info(self.name())
        title = f"Your copy of {info.title} ({info.local_copy})"
        if folder:
            return QFileDialog.getExistingDirectory(self, title)
        path, _ = QFileDialog.getOpenFileName(self, title, "", "Keras data set files "
                                              "(*.npz *.gz *.tar.gz);;All files (*)")
        return path

    def _choose_copy(self, folder: bool) -> None:
        path = self.ask_copy_path(folder)
        if path:
            self.copy_chosen.emit(path)
