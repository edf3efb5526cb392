"""The class probabilities of the "Try it" panel as horizontal bars: the classes in their own
order (so a bar can be watched while it grows), the best one highlighted and named on top."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from app.training.prediction import Scores

MAX_BARS = 12              # more classes: the best ones only
STEPS = 1000


class ScoreBars(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.top = QLabel("—", self)
        font = QFont(self.top.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setWeight(QFont.Weight.DemiBold)
        self.top.setFont(font)
        self.top.setAccessibleName("Prediction")
        outer.addWidget(self.top)
        self.grid = QGridLayout()
        self.grid.setVerticalSpacing(2)
        outer.addLayout(self.grid)
        outer.addStretch(1)
        self.rows: list[tuple[QLabel, QProgressBar]] = []
        self._labels: list[str] = []

    def _row(self, i: int) -> tuple[QLabel, QProgressBar]:
        while len(self.rows) <= i:
            k = len(self.rows)
            name = QLabel(self)
            name.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            bar = QProgressBar(self)
            bar.setRange(0, STEPS)
            bar.setTextVisible(True)
            bar.setMaximumHeight(18)
            self.grid.addWidget(name, k, 0)
            self.grid.addWidget(bar, k, 1)
            self.rows.append((name, bar))
        return self.rows[i]

    def clear(self, message: str = "—") -> None:
        self.top.setText(message)
        for name, bar in self.rows:
            name.hide()
            bar.hide()
        self._labels = []

    def show_scores(self, scores: Scores) -> None:
        ranked = scores.ranked()
        best_label, best = ranked[0]
        if scores.probabilities:
            self.top.setText(f"{best_label}  ·  {100 * best:.1f}%")
        else:
            self.top.setText(f"{best_label}: {best:.4g}")
        # classes in their own order when they all fit, else the best ones
        shown = scores.pairs if len(scores.pairs) <= MAX_BARS else ranked[:MAX_BARS]
        self._labels = [label for label, _ in shown]
        lo = min(0.0, min(v for _, v in shown))
        hi = max(1.0, max(v for _, v in shown)) if scores.probabilities else \
            max(1e-12, max(abs(v) for _, v in shown))
        for i, (label, value) in enumerate(shown):
            name, bar = self._row(i)
            name.setText(label)
            bar.setValue(int(STEPS * (value - lo) / (hi - lo)) if hi > lo else 0)
            bar.setFormat(f"{100 * value:.1f}%" if scores.probabilities else f"{value:.4g}")
            bold = label == best_label
            if name.font().bold() != bold:          # restyling a label is not free
                font = name.font()
                font.setBold(bold)
                name.setFont(font)
            name.show()
            bar.show()
        for name, bar in self.rows[len(shown):]:
            name.hide()
            bar.hide()

    def shown_labels(self) -> list[str]:
        return list(self._labels)

    def value_of(self, label: str) -> str:
        """The text on ``label``'s bar (tests, accessibility)."""
        for name, bar in self.rows:
            if name.isVisible() and name.text() == label:
                return bar.format()
        raise KeyError(label)
