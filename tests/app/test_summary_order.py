"""Model summary lists the model's layers in order, and layers not wired into it last."""
from PySide6.QtWidgets import QApplication


def test_unconnected_layers_are_listed_last(window):
    doc = window.editor.doc
    window.editor.add_node("Dense", (-600, -400), params={"units": 3})   # top-left, alone
    window.editor.add_node("InputLayer", (-600, 400), params={"shape": [5]})
    QApplication.processEvents()
    table = window.summary.table
    names = [table.item(r, 0).text().split(" ")[0] for r in range(table.rowCount())]
    assert names == ["input", "flatten", "dense", "dense_1", "dense_2", "input_1"]
    assert len(doc.nodes) == 6
