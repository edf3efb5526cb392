"""The Custom layer and Lambda nodes in the window: added from the palette, edited in the code
editor (errors with their line on the node, in the inspector and in Problems; shapes inferred in
a child process; a runaway loop stopped without freezing the window), trained, saved and
reopened only with consent (code not trusted never runs), exported to .h5 and a Keras script
that real Keras runs."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.panels.code_param_editors import CodeParamEditor, ExpressionEditor
from engine.graph import GraphDocument
from tests.app.conftest import canvas_project
from tests.app.tiny_training import prepare, train
from tests.real_keras import run_real_keras

WAIT = 240_000          # ms: the child process imports the engine first (slow when busy)

DENSE10 = textwrap.dedent('''\
    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 10), name="kernel")
        self.bias = self.add_weight(shape=(10,), initializer="zeros", name="bias")


    def call(self, x):
        return ops.softmax(ops.matmul(x, self.kernel) + self.bias)
    ''')


def marker_source(path: Path) -> str:
    return ("def call(self, x):\n"
            f"    open({str(path)!r}, 'w').write('ran')\n"
            "    return x\n")


def code_graph(source: str = DENSE10) -> GraphDocument:
    """input(28, 28) → flatten → custom (a Custom layer node)."""
    doc = GraphDocument(name="custom")
    inp = doc.add_node("InputLayer", {"shape": [28, 28]}, "input", (0, 0))
    flat = doc.add_node("Flatten", {}, "flatten", (240, 0))
    custom = doc.add_node("CustomLayer", {"class_name": "Softmax10", "source": source},
                          "custom", (480, 0))
    doc.connect(inp.id, flat.id)
    doc.connect(flat.id, custom.id)
    return doc


def settled(window, qtbot, node_id: str):
    """The node's shape inference result once the child process answered."""
    doc = window.editor.doc
    qtbot.waitUntil(lambda: node_id in doc.info and not doc.info[node_id].pending,
                    timeout=WAIT)
    QApplication.processEvents()
    window.scene.flush()
    return doc.info[node_id]


def type_source(editor: CodeParamEditor, qtbot, text: str) -> None:
    """Replace the editor's text as typing does; the pause commits it."""
    editor.editor.selectAll()
    editor.editor.insertPlainText(text)
    qtbot.waitUntil(lambda: not editor.pending(), timeout=5000)


def test_custom_node_from_the_palette_edited_with_errors_on_their_line(window, qtbot):
    doc = window.editor.doc
    item = next(i for i in window.palette.layer_items() if i.text(0) == "CustomLayer")
    window.palette.tree.itemActivated.emit(item, 0)
    node = doc.node_by_name("custom_layer")
    assert window.scene.selected_node_ids() == [node.id]
    window.editor.connect(doc.node_by_name("dense").id, 0, node.id, 0)
    assert doc.info[node.id].pending                 # asked of the child, not waited for
    window.scene.flush()
    assert window.scene.node_items[node.id].card.pending
    info = settled(window, qtbot, node.id)
    assert info.output_shapes == [(None, 32)] and info.params == 64 * 32 + 32

    editor = window.inspector.editors["source"]
    assert isinstance(editor, CodeParamEditor)
    example = editor.editor.code()
    assert "def call(self, x):" in example
    broken = editor.editor.code().replace("return ops.relu(", "return scale * ops.relu(")
    type_source(editor, qtbot, broken)
    line = broken.splitlines().index("    return scale * ops.relu(ops.matmul(x, self.w) "
                                     "+ self.b)") + 1
    info = settled(window, qtbot, node.id)
    assert info.error_line == line
    assert info.error.startswith(f"line {line} in call(): NameError")
    card = window.scene.node_items[node.id].card
    assert card.error == info.error                  # on the node
    window.problems.refresh()
    texts = [window.problems.list.item(i).text() for i in range(window.problems.list.count())]
    assert f"custom_layer: {info.error}" in texts    # in Problems
    window.inspector._update_info()
    assert editor.editor.error_line == line          # and marked in the editor
    assert f"line {line}" in window.inspector.info_label.text()

    type_source(editor, qtbot, "def call(self, x)\n    return x\n")
    assert editor.editor.error_line == 1 and "expected ':'" in editor.status.text()
    info = settled(window, qtbot, node.id)
    assert info.error_line == 1 and "line 1" in info.error

    type_source(editor, qtbot, "def call(self, x):\n    return x[:, :5] * 2\n")
    info = settled(window, qtbot, node.id)
    assert info.error is None and info.output_shapes == [(None, 5)]
    window.inspector._update_info()
    assert editor.editor.error_line is None
    window.undo_stack.undo()          # edits of the code merge into one step (the editor's
    assert doc.nodes[node.id].params["source"] == example   # own Ctrl+Z undoes keystrokes)
    assert editor.editor.code() == example


def test_a_runaway_loop_is_stopped_and_the_window_keeps_running(window, qtbot):
    from app.code_shapes import CodeShapeRunner
    window.code_shapes.close()
    window.code_shapes = CodeShapeRunner(window, time_limit=1.5)
    window.code_shapes.attach(window.editor.doc)
    doc = window.editor.doc
    nid = window.add_layer_at("CustomLayer", None)
    window.editor.set_param(nid, "source", "def call(self, x):\n    while True:\n"
                                           "        x = x + 1\n")
    window.editor.connect(doc.node_by_name("dense").id, 0, nid, 0)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    info = settled(window, qtbot, nid)
    timer.stop()
    assert "did not finish within 1.5 s" in info.error and info.error_line in (2, 3)
    assert len(ticks) > 10                           # the event loop ran all along
    assert any(nid == n for n, _ in doc.problems())


def test_lambda_node_takes_one_expression(window, qtbot):
    doc = window.editor.doc
    nid = window.add_layer_at("Lambda", None)
    window.editor.connect(doc.node_by_name("dense").id, 0, nid, 0)
    editor = window.inspector.editors["function"]
    assert isinstance(editor, ExpressionEditor) and editor.editor.code() == "x"
    type_source(editor, qtbot, "ops.mean(x, axis=-1, keepdims=True) * 2")
    params = doc.nodes[nid].params["function"]
    assert params["config"]["source"] == "lambda x: ops.mean(x, axis=-1, keepdims=True) * 2"
    assert settled(window, qtbot, nid).output_shapes == [(None, 1)]
    assert ("function", "ops.mean(x, axis=-1, keepdims=True) * 2") in \
        window.scene.node_items[nid].card.rows
    type_source(editor, qtbot, "x *")
    assert "line 1" in editor.status.text()
    assert settled(window, qtbot, nid).error is not None


def test_custom_node_trains_one_epoch(window, qtbot):
    window.set_project(canvas_project(code_graph()))
    nid = window.editor.doc.node_by_name("custom").id
    assert settled(window, qtbot, nid).output_shapes == [(None, 10)]
    prepare(window, epochs=1)
    outcome = train(window, qtbot)
    assert outcome.status == "completed", outcome.message
    run = window.project.runs[-1]
    assert len(run.history["loss"]) == 1 and np.isfinite(run.history["loss"][0])
    assert [a.shape for a in window.project.weights["custom"]] == [(784, 10), (10,)]


def _saved_with_marker(window, qtbot, tmp_path) -> tuple[Path, Path]:
    marker = tmp_path / "ran.txt"
    window.set_project(canvas_project(code_graph(marker_source(marker))))
    settled(window, qtbot, window.editor.doc.node_by_name("custom").id)
    assert marker.exists()              # typed on this canvas: the user's own code runs
    path = tmp_path / "p.loom"
    assert window.file_ops._save_to(str(path))
    marker.unlink()
    return path, marker


def test_reopened_code_runs_only_after_consent(window, qtbot, tmp_path):
    path, marker = _saved_with_marker(window, qtbot, tmp_path)
    asked = []

    def ask(file_name, code, can_open_inert=True):
        asked.append((file_name, code))
        return answers.pop(0)
    window.file_ops.ask_trust_code = ask

    answers = ["cancel"]
    before = window.project
    assert not window.file_ops.open_path(str(path))
    assert window.project is before and asked[-1][0] == "p.loom"
    assert "open(" in asked[-1][1]["custom"]

    window.code_shapes.close()
    answers = ["inert"]
    assert window.file_ops.open_path(str(path))
    doc = window.editor.doc
    nid = doc.node_by_name("custom").id
    assert doc.untrusted == {nid} and "not been trusted" in doc.info[nid].error
    window.scene.select_nodes([nid])
    assert window.inspector.trust_box is not None and window.inspector.trust_box.isVisibleTo(
        window.inspector)
    editor = window.inspector.editors["source"]
    type_source(editor, qtbot, editor.editor.code() + "\n")    # editing does not run it
    assert not window.file_ops.export_script(str(tmp_path / "s.py"))
    qtbot.wait(300)
    assert not marker.exists() and window.code_shapes.process is None   # nothing ran
    window.inspector.trust_box.findChild(type(window.inspector.trust_box.children()[-1])
                                         ).click()
    assert settled(window, qtbot, nid).output_shapes == [(None, 784)]
    assert marker.exists() and doc.untrusted == set()
    marker.unlink()

    answers = ["trust"]
    assert window.file_ops.open_path(str(path))
    nid = window.editor.doc.node_by_name("custom").id
    assert settled(window, qtbot, nid).output_shapes == [(None, 784)] and marker.exists()


def test_export_h5_and_a_keras_script_that_real_keras_runs(window, qtbot, tmp_path):
    window.set_project(canvas_project(code_graph()))
    doc = window.editor.doc
    settled(window, qtbot, doc.node_by_name("custom").id)
    assert window.file_ops.export_h5(str(tmp_path / "m.h5"))
    assert window.file_ops.export_script(str(tmp_path / "m.py"))
    text = (tmp_path / "m.py").read_text()
    assert "@keras.saving.register_keras_serializable(package='LayerLoom')\n" \
           "class Softmax10(keras.layers.Layer):" in text
    assert "custom = Softmax10(name='custom')(flatten)" in text
    from engine.models import load_model
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    ours = window.project.build_model()
    again = load_model(tmp_path / "m.h5", safe_mode=False)
    ours.set_weights(again.get_weights())
    expected = ours.predict(x, verbose=0)
    np.testing.assert_allclose(again.predict(x, verbose=0), expected, rtol=1e-6)

    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "expected.npy", expected)
    out = run_real_keras(textwrap.dedent(f'''
        import runpy, numpy as np
        ns = runpy.run_path({str(tmp_path / "m.py")!r}, run_name="exported")
        model = ns["build_model"]()       # the script builds and compiles it in a function
        model.load_weights({str(tmp_path / "m.h5")!r})
        got = model.predict(np.load({str(tmp_path / "x.npy")!r}), verbose=0)
        np.testing.assert_allclose(got, np.load({str(tmp_path / "expected.npy")!r}),
                                   rtol=1e-4, atol=1e-6)
        import keras
        again = keras.models.load_model({str(tmp_path / "m.h5")!r})
        np.testing.assert_allclose(again.predict(np.load({str(tmp_path / "x.npy")!r}),
                                                 verbose=0), got, rtol=1e-4, atol=1e-6)
        print("real keras ok", type(again.get_layer("custom")).__name__)
        '''), tmp_path, timeout=900)
    assert "real keras ok Softmax10" in out


def test_importing_an_h5_with_code_asks_first(window, qtbot, tmp_path):
    window.set_project(canvas_project(code_graph()))
    settled(window, qtbot, window.editor.doc.node_by_name("custom").id)
    assert window.file_ops.export_h5(str(tmp_path / "m.h5"))
    window.file_ops.ask_save_changes = lambda: "discard"
    answers, asked = ["cancel", "trust"], []

    def ask(file_name, code, can_open_inert=True):
        asked.append((code, can_open_inert))
        return answers.pop(0)
    window.file_ops.ask_trust_code = ask
    assert not window.file_ops.import_h5(str(tmp_path / "m.h5"))
    assert asked[0] == ({"custom": DENSE10}, False)
    assert window.file_ops.import_h5(str(tmp_path / "m.h5"))
    node = window.editor.doc.node_by_name("custom")
    assert node.type_name == "CustomLayer" and node.params["class_name"] == "Softmax10"
    assert window.editor.doc.info[node.id].output_shapes == [(None, 10)]


def test_code_editor_keys_highlighting_and_the_large_window(window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QTextCursor
    nid = window.add_layer_at("CustomLayer", None)
    param = window.inspector.editors["source"]
    ed = param.editor
    ed.setPlainText("")
    ed.setFocus()
    qtbot.keyClicks(ed, "def call(self, x):")
    qtbot.keyClick(ed, Qt.Key_Return)
    assert ed.code() == "def call(self, x):\n    "          # indented after ':'
    qtbot.keyClick(ed, Qt.Key_Tab)
    assert ed.code().endswith("\n        ")                  # Tab = 4 spaces
    qtbot.keyClick(ed, Qt.Key_Backspace)
    assert ed.code().endswith("\n    ")                      # back by one level
    qtbot.keyClicks(ed, "return x")
    ed.selectAll()
    qtbot.keyClick(ed, Qt.Key_Backtab)
    assert ed.code() == "def call(self, x):\nreturn x"
    ed.selectAll()
    qtbot.keyClick(ed, Qt.Key_Tab)
    assert ed.code() == "    def call(self, x):\n    return x"
    block = ed.document().firstBlock()
    formats = {(r.start, r.length) for r in block.layout().formats()}
    assert (4, 3) in formats and (8, 4) in formats          # 'def' and the name 'call'
    ed.moveCursor(QTextCursor.End)
    ed.setPlainText("def call(self, x):\n    return x\n")
    param.commit_now()
    assert window.editor.doc.nodes[nid].params["source"] == "def call(self, x):\n    return x\n"
    dialog = param.open_window()
    assert dialog.editor.document() is ed.document()          # one text, two views
    dialog.editor.moveCursor(QTextCursor.End)
    dialog.editor.insertPlainText("\ndef build(self, shape):\n    pass\n")
    assert "def build(self, shape)" in ed.code()
    assert "build() must take" in dialog.status.text()       # checked in both views
    assert dialog.editor.error_line == 4 and ed.error_line == 4
    qtbot.waitUntil(lambda: not param.pending(), timeout=5000)
    assert "def build(self, shape)" in window.editor.doc.nodes[nid].params["source"]
    window.scene.select_nodes([])                             # the inspector lets go of it
    QApplication.processEvents()
    assert window.inspector.editors == {}


def test_consent_dialog_shows_each_layers_code(qtbot):
    from app.code_consent import CodeConsentDialog
    code = {"custom": "def call(self, x):\n    return x\n", "scale": "lambda x: x * 2"}
    dialog = CodeConsentDialog("p.loom", code)
    qtbot.addWidget(dialog)
    assert dialog.viewer.code() == code["custom"] and dialog.viewer.isReadOnly()
    dialog.layers.setCurrentRow(1)
    assert dialog.viewer.code() == "lambda x: x * 2"
    assert dialog.inert_button.isDefault()                    # the safe answer is the default
    dialog.inert_button.click()
    assert dialog.choice == "inert"
    dialog = CodeConsentDialog("m.h5", code, can_open_inert=False)
    qtbot.addWidget(dialog)
    assert dialog.inert_button.parent() is None or not dialog.inert_button.isVisibleTo(dialog)
    dialog.trust_button.click()
    assert dialog.choice == "trust"


def test_pasted_code_from_outside_does_not_run(window, qtbot, tmp_path):
    from PySide6.QtGui import QGuiApplication

    from app import clipboard
    marker = tmp_path / "ran.txt"
    doc = window.editor.doc
    window.code_shapes.close()
    source = GraphDocument()
    nid = source.add_node("CustomLayer", {"source": marker_source(marker)}, "c").id
    text = clipboard.fragment_to_text(clipboard.make_fragment(source, [nid]))
    QGuiApplication.clipboard().setText(text)            # plain text, e.g. from a web page
    (pasted,) = window.editor.paste()
    window.editor.connect(doc.node_by_name("dense").id, 0, pasted, 0)
    assert pasted in doc.untrusted and "not been trusted" in doc.info[pasted].error
    (copy,) = window.editor.duplicate([pasted])           # a copy of it stays inert too
    assert copy in doc.untrusted
    qtbot.wait(200)
    assert not marker.exists() and window.code_shapes.process is None
    window.editor.trust_code([pasted])
    assert settled(window, qtbot, pasted).output_shapes == [(None, 64)] and marker.exists()
    marker.unlink()
    window.editor.copy([pasted])                          # copied in this window: trusted
    (again,) = window.editor.paste()
    assert again not in doc.untrusted


def test_opening_at_startup_asks_in_the_real_dialog(qtbot, settings, tmp_path, monkeypatch):
    from app import code_consent
    from app.main import create_window, parse_args
    from engine.project import Project, save_project
    marker = tmp_path / "ran.txt"
    doc = code_graph(marker_source(marker))
    marker.unlink()
    path = save_project(Project(doc), tmp_path / "p.loom")
    shown = []

    def exec_(dialog):
        shown.append(dict(dialog.code))
        dialog.trust_button.click()
        return 1
    monkeypatch.setattr(code_consent.CodeConsentDialog, "exec", exec_)
    window = create_window(parse_args(["--open", str(path)]), settings=settings)
    qtbot.addWidget(window)
    window.file_ops.ask_save_changes = lambda: "discard"
    assert window.editor.doc.untrusted and not marker.exists()     # inert until asked
    qtbot.waitUntil(lambda: bool(shown), timeout=5000)
    assert "open(" in shown[0]["custom"]
    nid = window.editor.doc.node_by_name("custom").id
    assert settled(window, qtbot, nid).output_shapes == [(None, 784)] and marker.exists()
    window.code_shapes.close()
