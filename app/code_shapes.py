"""The app's shape inference for nodes that hold code: in a child process, never in the GUI
thread (see :mod:`engine.graph.code_process` for why and how it is stopped).

:class:`CodeShapeRunner` is the document's ``code_runner``: shape inference asks it, it answers
from its cache or queues the question and answers ``pending``; when the child's answer arrives
(on the service thread) the ``answered`` signal brings it to the GUI thread, which re-runs shape
inference — the canvas, inspector and Problems then show the shape or the error.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.graph.code_process import TIME_LIMIT, CodeShapeProcess


class CodeShapeRunner(QObject):
    answered = Signal()            # emitted from the service thread; delivered queued

    def __init__(self, parent: QObject | None = None, time_limit: float = TIME_LIMIT):
        super().__init__(parent)
        self.time_limit = time_limit
        self.process: CodeShapeProcess | None = None      # started with the first question
        self.doc = None
        self.answered.connect(self._reinfer)

    def attach(self, doc) -> None:
        """Infer ``doc``'s code nodes from now on (the document the window shows)."""
        if self.doc is not None and self.doc is not doc:
            self.doc.code_runner = None
        self.doc = doc
        doc.code_runner = self

    def infer(self, node, in_shapes):
        if self.process is None:
            self.process = CodeShapeProcess(on_result=self.answered.emit,
                                            time_limit=self.time_limit)
        return self.process.infer(node, in_shapes)

    def busy(self) -> bool:
        return self.process is not None and self.process.busy()

    def _reinfer(self) -> None:
        if self.doc is not None:
            self.doc.infer_shapes()

    def close(self) -> None:
        if self.process is not None:
            self.process.close()
            self.process = None
