"""The start page (New, Open, recent projects, examples with cached thumbnails) and the hint on an
empty canvas."""
import argparse

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.canvas.thumbnails import ThumbnailCache
from app.start_page import THUMB, describe_project

project_mod = pytest.importorskip("engine.project")


@pytest.fixture
def page_host(window, tmp_path):
    host = window.start_page
    host.page.cache = ThumbnailCache(tmp_path / "thumbs")
    return host


def wait_thumbnails(qtbot, host):
    qtbot.waitUntil(lambda: host.page.thumbnails_pending() == 0, timeout=20000)


def test_start_page_lists_recent_projects_and_examples_with_thumbnails(page_host, window,
                                                                       qtbot, tmp_path):
    saved = tmp_path / "mine.loom"
    project_mod.save_project(project_mod.Project(graph=window.editor.doc), saved)
    window.file_ops.add_recent(str(saved))
    window.file_ops.add_recent(str(tmp_path / "gone.loom"))
    page_host.show()
    page = page_host.page
    assert page_host.is_shown() and page.isVisible() and not window.view.isVisible()
    recent = [page.recent.item(i) for i in range(page.recent.count())]
    assert [r.text().splitlines()[0] for r in recent] == ["gone.loom", "mine.loom"]
    assert "(missing)" in recent[0].text() and not recent[0].flags() & Qt.ItemIsEnabled
    titles = [page.examples.item(i).text() for i in range(page.examples.count())]
    assert "MNIST CNN" in titles and len(titles) == len(window.file_ops.examples())
    wait_thumbnails(qtbot, page_host)
    icon = page.examples.item(titles.index("MNIST CNN")).icon()
    image = icon.pixmap(THUMB).toImage()
    colours = {image.pixel(x, y) for x in range(0, image.width(), 3)
               for y in range(0, image.height(), 3)}
    assert len(colours) > 20                            # a drawn graph, not a blank tile
    text = page.examples.item(titles.index("MNIST CNN")).text()
    assert "8 layers" in text and "bundled MNIST" in text
    assert len(list((tmp_path / "thumbs").glob("*.png"))) == len(titles)
    assert page.cache.rendered == len(titles)


def test_thumbnails_are_cached_per_file_content_and_theme(window, qtbot, tmp_path):
    cache = ThumbnailCache(tmp_path / "thumbs")
    path = window.file_ops.examples()[0][1]
    first = cache.get(path, window.theme, THUMB).convertToFormat(QImage.Format_ARGB32)
    again = ThumbnailCache(tmp_path / "thumbs")
    assert again.get(path, window.theme, THUMB) == first and again.rendered == 0
    from app.theme import DARK
    dark = again.get(path, DARK, THUMB).convertToFormat(QImage.Format_ARGB32)
    assert again.rendered == 1 and dark != first
    copy = tmp_path / "edited.loom"
    copy.write_bytes(path.read_bytes())
    assert again.cached(copy, window.theme, THUMB) is not None     # same bytes, same picture
    project = project_mod.load_project(copy)
    project.graph.remove_node(next(iter(project.graph.nodes)))
    project_mod.save_project(project, copy)
    assert again.cached(copy, window.theme, THUMB) is None          # edited: drawn afresh


def test_an_example_opens_as_a_new_project_and_the_canvas_returns(page_host, window, qtbot):
    page_host.show()
    page = page_host.page
    titles = [page.examples.item(i).text() for i in range(page.examples.count())]
    page.examples.setFocus()
    page.examples.setCurrentRow(titles.index("MNIST MLP"))
    QTest.keyClick(page.examples, Qt.Key_Return)          # keyboard: Enter opens it
    assert not page_host.is_shown() and window.view.isVisible()
    assert window.editor.doc.name == "mnist_mlp" and window.project.path is None


def test_new_project_shows_the_empty_canvas_hint_until_a_layer_is_added(page_host, window):
    page_host.show()
    page_host.page.new_btn.click()
    QApplication.processEvents()
    hint = window.empty_hint
    assert not page_host.is_shown() and window.editor.doc.nodes == {}
    assert hint.isVisible() and "Your first network:" in hint.text()
    vp = window.view.viewport().rect()
    assert vp.contains(hint.geometry())
    window.add_layer_at("Dense", QPointF(0, 0))
    window.scene.flush()
    assert not hint.isVisible()
    window.undo_stack.undo()
    window.scene.flush()
    assert hint.isVisible()


def test_escape_and_the_file_menu_action(page_host, window, qtbot):
    page_host.show()
    QTest.keyClick(page_host.page.new_btn, Qt.Key_Escape)
    assert not page_host.is_shown() and window.editor.doc.name == "small"   # nothing opened
    window.actions["start_page"].trigger()
    assert page_host.is_shown()
    assert window.actions["start_page"] in window.actions.menus["file"].actions()


def test_show_at_startup_setting(page_host, window, settings, tmp_path, qtbot):
    from app.main import create_window
    page_host.show()
    assert page_host.page.at_startup.isChecked()            # on by default
    args = argparse.Namespace(open=None, screenshot=None, theme=None)
    second = create_window(args, settings=settings)
    qtbot.addWidget(second)
    assert second.start_page.is_shown()
    page_host.page.at_startup.setChecked(False)
    assert settings.value("start_page/at_startup") in (False, "false")
    third = create_window(args, settings=settings)
    qtbot.addWidget(third)
    assert not third.start_page.is_shown()
    for w in (second, third):
        w.file_ops.ask_save_changes = lambda: "discard"


def test_describe_project():
    from app.file_ops import EXAMPLES_DIR
    p = project_mod.load_project(EXAMPLES_DIR / "cifar10_cnn.loom")
    assert describe_project(p).startswith("7 layers · ")
    p.data_source = {"kind": "keras_dataset", "name": "cifar10"}
    assert describe_project(p).endswith(" · CIFAR-10 (downloaded)")
