"""Inspector: the form generated from the registry, edits through undoable commands."""
from PySide6.QtWidgets import QApplication

from app.panels.param_editors import (
    BoolEditor,
    ComboEditor,
    FloatEditor,
    IntEditor,
    NamedObjectEditor,
    RegularizerEditor,
    TextEditor,
    TupleEditor,
    make_editor,
    parse_text,
)
from engine.registry import Param, get_spec
from tests.app.conftest import node_id


def select(window, name):
    nid = node_id(window, name)
    window.scene.select_nodes([nid])
    QApplication.processEvents()
    assert window.inspector.node_id == nid
    return nid


def test_form_has_an_editor_of_the_right_kind_for_every_parameter(window):
    select(window, "dense")
    eds = window.inspector.editors
    assert set(eds) == {p.name for p in get_spec("Dense").params}
    assert isinstance(eds["units"], IntEditor) and eds["units"].spin.value() == 64
    assert eds["units"].spin.lo == 1 and eds["units"].spin.specialValueText() == "?"
    assert isinstance(eds["activation"], NamedObjectEditor)
    assert eds["activation"].combo.currentText() == "relu"
    assert "softmax" in [eds["activation"].combo.itemText(i)
                         for i in range(eds["activation"].combo.count())]
    assert isinstance(eds["use_bias"], BoolEditor) and eds["use_bias"].box.isChecked()
    assert eds["kernel_initializer"].combo.currentText() == "glorot_uniform"
    assert isinstance(eds["kernel_regularizer"], RegularizerEditor)
    assert window.inspector.name_edit.text() == "dense"
    assert "50,240" in window.inspector.info_label.text()


def test_editing_a_value_is_undoable_and_reinfers_shapes(window):
    nid = select(window, "dense")
    spin = window.inspector.editors["units"].spin
    spin.setValue(32)
    doc = window.editor.doc
    assert doc.node(nid).params["units"] == 32
    assert doc.info[nid].output_shapes == [(None, 32)]
    assert window.undo_stack.undoText() == "Set dense.units"
    window.undo_stack.undo()
    assert doc.node(nid).params["units"] == 64 and spin.value() == 64
    window.undo_stack.redo()
    assert spin.value() == 32


def test_combo_and_checkbox_edits(window):
    nid = select(window, "dense")
    eds = window.inspector.editors
    combo = eds["activation"].combo
    combo.setCurrentIndex(combo.findText("tanh"))
    combo.activated.emit(combo.currentIndex())
    eds["use_bias"].box.setChecked(False)
    node = window.editor.doc.node(nid)
    assert node.params["activation"] == "tanh" and node.params["use_bias"] is False
    assert window.editor.doc.info[nid].params == 784 * 64
    init = eds["kernel_initializer"].combo
    init.setCurrentIndex(init.findText("he_normal"))
    init.activated.emit(init.currentIndex())
    assert node.params["kernel_initializer"]["class_name"] == "HeNormal"
    assert window.undo_stack.count() == 3


def test_regularizer_editor_sets_a_config_with_its_factor(window):
    nid = select(window, "dense")
    reg = window.inspector.editors["kernel_regularizer"]
    reg.factor.setValue(0.005)
    reg.combo.setCurrentIndex(reg.combo.findText("l2"))
    reg.combo.activated.emit(reg.combo.currentIndex())
    value = window.editor.doc.node(nid).params["kernel_regularizer"]
    assert value == {"class_name": "L2", "config": {"l2": 0.005}}


def test_text_fields_validate_as_typed_and_refuse_bad_values(window, qtbot):
    nid = select(window, "input")
    shape = window.inspector.editors["shape"]
    assert isinstance(shape, TextEditor) and shape.line.text() == "28, 28"
    shape.line.clear()
    qtbot.keyClicks(shape.line, "28, x")
    assert shape.property("invalid") is True
    assert "whole number" in shape.toolTip()
    count = window.undo_stack.count()
    shape.line.editingFinished.emit()
    assert window.undo_stack.count() == count
    shape.line.clear()
    qtbot.keyClicks(shape.line, "7, 4")
    assert shape.property("invalid") is False
    shape.line.editingFinished.emit()
    assert window.editor.doc.node(nid).params["shape"] == [7, 4]
    assert window.editor.doc.info[node_id(window, "flatten")].output_shapes == [(None, 28)]


def test_rename_is_undoable_and_a_taken_name_is_refused(window):
    nid = select(window, "flatten")
    edit = window.inspector.name_edit
    edit.setText("dense_1")
    edit.editingFinished.emit()
    assert window.editor.doc.node(nid).name == "flatten" and edit.text() == "flatten"
    assert "already exists" in window.statusBar().currentMessage()
    edit.setText("flat")
    edit.editingFinished.emit()
    assert window.editor.doc.node(nid).name == "flat"
    window.scene.flush()
    assert window.scene.node_items[nid].card.name == "flat"
    window.undo_stack.undo()
    assert window.editor.doc.node(nid).name == "flatten" and edit.text() == "flatten"


def test_several_or_no_selected_nodes_show_a_note(window):
    window.scene.select_nodes([node_id(window, "dense"), node_id(window, "flatten")])
    assert window.inspector.node_id is None
    assert "2 layers selected" in window.inspector.widget().text()
    window.scene.clearSelection()
    assert "Select a layer" in window.inspector.widget().text()


def test_deleting_the_inspected_node_clears_the_form(window):
    nid = select(window, "dense_1")
    window.actions["delete"].trigger()
    assert nid not in window.editor.doc.nodes
    assert window.inspector.node_id is None


def test_editor_kinds_for_registry_params():
    assert isinstance(make_editor(Param("rate", "float", 0.5, "", min=0.0, max=1.0)),
                      FloatEditor)
    ed = make_editor(Param("kernel_size", "ints", (3, 3), "", length=2, min=1))
    assert isinstance(ed, TupleEditor) and len(ed.spins) == 2
    ed.set_value([5, 3])
    assert ed.current() == [5, 3]
    ed = make_editor(Param("strides", "ints", None, "", length=2, min=1, optional=True))
    ed.set_value(None)
    assert ed.current() is None and not ed.spins[0].isEnabled()
    ed = make_editor(Param("kernel_size", "ints", None, "", length=2, min=1))
    ed.set_value(None)                    # required but unset: shows "?", no auto box
    assert ed.auto is None and ed.spins[0].text() == "?" and ed.current() is None
    ed.spins[0].setValue(5)
    assert ed.current() == [5, 5]
    combo = make_editor(Param("padding", "choice", "valid", "", choices=("valid", "same")))
    assert isinstance(combo, ComboEditor) and combo.values == ["valid", "same"]
    seen = []
    combo.committed.connect(seen.append)
    combo.set_value("same")               # showing a value is not an edit
    assert seen == [] and combo.combo.currentText() == "same"
    combo.combo.activated.emit(0)
    assert seen == ["valid"]


def test_parse_text_forms():
    assert parse_text("shape", "(28, 28, 1)") == [28, 28, 1]
    assert parse_text("shape", "None, 8") == [None, 8]
    assert parse_text("axis", "-1") == -1
    assert parse_text("axis", "1, 2") == [1, 2]
    assert parse_text("int", "") is None
    assert parse_text("layer", '{"class_name": "LSTM"}') == {"class_name": "LSTM"}


def test_spin_box_respects_the_declared_range(window):
    nid = select(window, "dense")
    spin = window.inspector.editors["units"].spin
    spin.setValue(1)
    spin.stepDown()                            # the arrows stop at the range
    assert spin.value() == 1 and window.editor.doc.node(nid).params["units"] == 1
    spin.setValue(-50)                         # a typed value out of range is refused
    assert window.editor.doc.node(nid).params["units"] == 1 and spin.value() == 1
    assert "'units' expects a value >= 1, got -50" in window.inspector.message.text()
    spin.setValue(12)
    assert window.editor.doc.info[nid].error is None
