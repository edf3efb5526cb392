"""Inspector: a form for the selected node, generated from its registry parameters.

Each parameter gets the editor of its kind (spin boxes with the declared range, combos for
choices, check boxes, tuple editors, activation/initializer combos). A change goes through the
GraphEditor — an undoable command that re-runs shape inference — and a refused value is shown
on the field with the document's reason. The form follows the document, so undo/redo updates it.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.canvas.node_card import compact_shape
from app.editor import GraphEditor
from app.icons import layer_icon
from app.panels.param_editors import ParamEditor, make_editor
from engine.graph import GraphDocument


class InspectorPanel(QScrollArea):
    def __init__(self, editor: GraphEditor, parent: QWidget | None = None):
        super().__init__(parent)
        self.editor = editor
        self.doc: GraphDocument | None = None
        self.node_id: str | None = None
        self.editors: dict[str, ParamEditor] = {}
        self.name_edit: QLineEdit | None = None
        self.info_label: QLabel | None = None
        self.message: QLabel | None = None        # why the last edit was refused
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        self._info_timer = QTimer(self)
        self._info_timer.setSingleShot(True)
        self._info_timer.setInterval(0)
        self._info_timer.timeout.connect(self._update_info)
        self._show_placeholder("Select a layer to edit its parameters.")
        editor.document_replaced.connect(self.set_document)

    # ------------------------------------------------------------------ document
    def set_document(self, doc: GraphDocument) -> None:
        if self.doc is not None:
            self.doc.unsubscribe(self._on_event)
        self.doc = doc
        doc.subscribe(self._on_event)
        self.show_nodes([])

    def _on_event(self, event: str, payload: dict) -> None:
        nid = payload.get("node_id")
        if self.node_id is None:
            return
        if event == "node_removed" and nid == self.node_id:
            self.show_nodes([])
        elif event == "param_changed" and nid == self.node_id:
            ed = self.editors.get(payload["name"])
            if ed is not None:
                ed.set_value(self.doc.node(nid).params.get(payload["name"]))
        elif event == "renamed" and nid == self.node_id and self.name_edit is not None:
            self.name_edit.setText(payload["name"])
        elif event == "shapes":
            self._info_timer.start()

    # ------------------------------------------------------------------ building the form
    def show_nodes(self, node_ids: list[str]) -> None:
        """Show the form of the one selected node, or a note for none / several."""
        if len(node_ids) == 1 and self.doc is not None and node_ids[0] in self.doc.nodes:
            if node_ids[0] != self.node_id:
                self._build(node_ids[0])
            return
        self.node_id = None
        self.editors = {}
        self.name_edit = self.info_label = self.message = None
        if node_ids:
            self._show_placeholder(f"{len(node_ids)} layers selected.")
        else:
            self._show_placeholder("Select a layer to edit its parameters.")

    def _show_placeholder(self, text: str) -> None:
        label = QLabel(text)
        label.setAlignment(Qt.AlignCenter)
        label.setWordWrap(True)
        label.setEnabled(False)
        self.setWidget(label)

    def _build(self, node_id: str) -> None:
        node = self.doc.node(node_id)
        spec = node.spec
        self.node_id = node_id
        self.editors = {}
        page = QWidget()
        outer = QVBoxLayout(page)
        outer.setContentsMargins(10, 10, 10, 10)
        outer.setSpacing(8)

        head = QHBoxLayout()
        icon = QLabel()
        icon.setPixmap(layer_icon(spec.category, spec.icon).pixmap(28, 28))
        title = QLabel(f"<b style='font-size:12pt'>{spec.type_name}</b><br>"
                       f"<span style='color:gray'>{spec.category}</span>")
        head.addWidget(icon)
        head.addWidget(title, 1)
        outer.addLayout(head)
        help_label = QLabel(spec.help)
        help_label.setWordWrap(True)
        help_label.setEnabled(False)
        outer.addWidget(help_label)
        self.info_label = QLabel()
        self.info_label.setWordWrap(True)
        self.info_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        outer.addWidget(self.info_label)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.message.setStyleSheet("color: #d93636")
        self.message.hide()
        outer.addWidget(self.message)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.name_edit = QLineEdit(node.name)
        self.name_edit.setToolTip("The layer's name (also its name in the model and in .h5 files)")
        self.name_edit.editingFinished.connect(self._rename)
        form.addRow("name", self.name_edit)
        advanced = QFormLayout()
        advanced.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        where = f"{spec.type_name} '{node.name}'"
        for p in spec.params:
            ed = make_editor(p, where)
            ed.set_value(node.params.get(p.name))
            ed.committed.connect(lambda value, name=p.name: self._commit(name, value))
            self.editors[p.name] = ed
            label = QLabel(p.name)
            label.setToolTip(p.help)
            (advanced if p.advanced else form).addRow(label, ed)
        outer.addLayout(form)

        if advanced.rowCount():
            toggle = QToolButton()
            toggle.setText("Advanced")
            toggle.setCheckable(True)
            toggle.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
            toggle.setArrowType(Qt.RightArrow)
            toggle.setAutoRaise(True)
            box = QWidget()
            box.setLayout(advanced)
            box.setVisible(False)

            def flip(on: bool, box=box, toggle=toggle) -> None:
                box.setVisible(on)
                toggle.setArrowType(Qt.DownArrow if on else Qt.RightArrow)
            toggle.toggled.connect(flip)
            outer.addWidget(toggle)
            outer.addWidget(box)
        outer.addStretch(1)
        self.setWidget(page)
        self._update_info()

    def _update_info(self) -> None:
        if self.node_id is None or self.info_label is None or self.node_id not in self.doc.nodes:
            return
        info = self.doc.info.get(self.node_id)
        if info is None:
            self.info_label.setText("")
        elif info.error:
            self.info_label.setText(f"<span style='color:#d93636'>⚠ {info.error}</span>")
        else:
            shape = compact_shape(info.output_shapes if len(info.output_shapes) > 1
                                  else info.output_shapes[0]) if info.output_shapes else "?"
            self.info_label.setText(f"output <b>{shape}</b> &nbsp;·&nbsp; "
                                    f"<b>{info.params:,}</b> parameters")

    # ------------------------------------------------------------------ edits
    def _commit(self, name: str, value) -> None:
        if self.node_id is None:
            return
        node = self.doc.node(self.node_id)
        if node.params.get(name) == value:
            return
        error = self.editor.set_param(self.node_id, name, value)
        ed = self.editors.get(name)
        if error and ed is not None:
            ed.set_value(node.params.get(name))
            ed.show_error(error)
        self._show_refusal(error)

    def _rename(self) -> None:
        if self.node_id is None or self.name_edit is None:
            return
        error = self.editor.rename(self.node_id, self.name_edit.text())
        if error:
            self.name_edit.setText(self.doc.node(self.node_id).name)
            self.name_edit.setToolTip(f"⚠ {error}")
        self._show_refusal(error)

    def _show_refusal(self, error: str | None) -> None:
        """The reason a value was refused, under the layer's title (None hides it)."""
        if self.message is not None:
            self.message.setText(f"⚠ {error}" if error else "")
            self.message.setVisible(bool(error))
