"""The training panels on the right fit the dock of a 1600×1000 window: every control is
visible without scrolling sideways."""
import pytest
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QWidget


@pytest.mark.parametrize("key", ["settings", "data"])
def test_panel_fits_its_dock_at_1600_by_1000(window, key):
    window.resize(1600, 1000)
    dock = window.training.docks[key]
    dock.show()
    dock.raise_()
    for _ in range(5):
        QApplication.processEvents()
    panel = dock.widget()
    if isinstance(panel, QAbstractScrollArea):
        assert panel.horizontalScrollBar().maximum() == 0
        view = panel.viewport()
    else:
        view = panel
    right = view.mapToGlobal(view.rect().topRight()).x()
    for child in view.findChildren(QWidget):
        if child.isVisible() and child.width() > 0:
            edge = child.mapToGlobal(child.rect().topRight()).x()
            assert edge <= right + 1, f"{type(child).__name__} ends {edge - right} px out"
