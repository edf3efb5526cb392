"""What right-clicks and drags on the canvas do: the context menus of the canvas, a node and a
connection, a port dragged into empty canvas (quick-add a connected layer) and a palette layer
dropped onto a connection (insert it). Every edit goes through the GraphEditor, so it is one
undo step; this module only decides which edit a gesture means.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPoint, QPointF
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QMenu

from app import clipboard
from app.canvas.edge_item import EdgeItem
from app.canvas.node_item import WIDTH as NODE_WIDTH
from app.canvas.node_item import NodeItem
from engine.graph import Edge

if TYPE_CHECKING:
    from app.main_window import MainWindow

PORT_DROP_Y = 56.0        # from a card's top to its (single) port: the new card's port lands
                          # where the drag ended
INSERT_GAP = 72.0         # room kept between an inserted layer and its neighbours (as the
                          # auto-layout's columns)


class CanvasInteractions(QObject):
    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.w = window
        self.menu: QMenu | None = None          # the menu shown last (tests look at it)
        window.view.context_menu_requested.connect(self.show_menu)
        window.view.insert_requested.connect(self.insert_into_edge)
        window.scene.port_released.connect(self.port_released)
        window.editor.refused.connect(lambda reason: window.view.show_notice(
            f"Cannot add: {reason}"))

    # ------------------------------------------------------------------ menus
    def show_menu(self, scene_pos: QPointF, global_pos: QPoint) -> None:
        self.menu = self.menu_at(scene_pos)
        self.menu.popup(global_pos)

    def menu_at(self, scene_pos: QPointF) -> QMenu:
        """The menu for what is under ``scene_pos``: a node (which becomes selected unless it
        already is), a connection, or the empty canvas."""
        scene = self.w.scene
        item = scene.item_at(scene_pos)
        if isinstance(item, NodeItem):
            if not item.isSelected():
                scene.select_nodes([item.node_id])
            return self._node_menu(scene.selected_node_ids())
        if isinstance(item, EdgeItem):
            scene.clearSelection()
            item.setSelected(True)
            return self._edge_menu(item.edge, scene_pos)
        return self._canvas_menu(scene_pos)

    def _menu(self) -> QMenu:
        menu = QMenu(self.w)
        menu.setObjectName("canvas_menu")
        return menu

    def _add(self, menu: QMenu, text: str, slot, enabled: bool = True, tip: str = "") -> QAction:
        act = menu.addAction(text)
        act.triggered.connect(lambda _checked=False: slot())
        act.setEnabled(enabled)
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        return act

    def _canvas_menu(self, scene_pos: QPointF) -> QMenu:
        menu = self._menu()
        view, actions = self.w.view, self.w.actions
        self._add(menu, "Add Layer…", lambda: view.open_quick_add(scene_pos),
                  tip="Type a layer name to add it here")
        self._add(menu, "Paste Here", lambda: self._paste_at(scene_pos),
                  enabled=clipboard_has_layers())
        menu.addSeparator()
        for key in ("select_all", "auto_layout", "fit"):
            menu.addAction(actions[key])
        return menu

    def _node_menu(self, node_ids: list[str]) -> QMenu:
        menu = self._menu()
        doc, ed, actions = self.w.editor.doc, self.w.editor, self.w.actions
        one = node_ids[0] if len(node_ids) == 1 else None
        if one is not None:
            menu.addAction(actions["rename"])
        for key in ("duplicate", "copy", "cut", "delete"):
            menu.addAction(actions[key])
        wired = any(e.src in node_ids or e.dst in node_ids for e in doc.edges)
        self._add(menu, "Disconnect", lambda: ed.disconnect_nodes(node_ids), enabled=wired,
                  tip="Remove every connection of the selected layers")
        if one is None:
            return menu
        menu.addSeparator()
        self._add(menu, "Show Activations", lambda: self.show_activations(one),
                  enabled=self.w.training is not None,
                  tip="What this layer computes for a sample (Activations panel)")
        after = ed.nodes_after(one)
        if doc.node(one).type_name == "InputLayer":
            text, enabled = "Set as Output (an Input cannot be one)", False
        elif after:
            n = len(after)
            text, enabled = f"Set as Output (removes the {n} layer{'s' * (n > 1)} after it)", True
        else:
            text, enabled = "Set as Output (it is one)", False
        self._add(menu, text, lambda: ed.set_as_output(one), enabled=enabled,
                  tip="Make this layer the model's output")
        return menu

    def _edge_menu(self, edge: Edge, scene_pos: QPointF) -> QMenu:
        menu = self._menu()
        self._add(menu, "Insert Layer…", lambda: self.w.view.open_quick_add(
            scene_pos, then=lambda t, p: self.insert_into_edge(t, edge, p),
            exclude={"InputLayer"}), tip="Put a new layer into this connection")
        self._add(menu, "Delete Connection", lambda: self.w.editor.disconnect(edge))
        return menu

    # ------------------------------------------------------------------ edits
    def _paste_at(self, scene_pos: QPointF) -> None:
        ids = self.w.editor.paste(at=(scene_pos.x(), scene_pos.y()))
        if ids:
            self.w.scene.select_nodes(ids)

    def show_activations(self, node_id: str) -> None:
        training = self.w.training
        self.w.scene.select_nodes([node_id])
        dock = training.docks["activations"]
        dock.show()
        dock.raise_()
        training.show_layer(self.w.editor.doc.node(node_id).name)

    def insert_into_edge(self, type_name: str, edge: Edge, scene_pos: QPointF) -> str | None:
        """The new layer where it was dropped, but right of the connection's source; the
        target and the layers after it move right when they would be covered."""
        ed = self.w.editor
        if edge not in ed.doc.edges:                   # gone meanwhile (undo)
            return None
        src, dst = ed.doc.node(edge.src), ed.doc.node(edge.dst)
        x = max(scene_pos.x() - NODE_WIDTH / 2, src.position[0] + NODE_WIDTH + INSERT_GAP)
        pos = self.w.scene.snap(QPointF(x, scene_pos.y() - PORT_DROP_Y))
        shift = pos.x() + NODE_WIDTH + INSERT_GAP - dst.position[0]
        make_room = {}
        if shift > 0 and dst.position[0] >= src.position[0]:     # a left-to-right wire
            for nid in [dst.id] + ed.nodes_after(dst.id):
                old = ed.doc.node(nid).position
                make_room[nid] = (tuple(old), (old[0] + shift, old[1]))
        return self._show_new(ed.insert_into_edge(type_name, edge, (pos.x(), pos.y()),
                                                  make_room))

    def _show_new(self, nid: str | None) -> str | None:
        """Select a layer just added and scroll it into view."""
        if nid is not None:
            self.w.scene.select_nodes([nid])
            self.w.view.reveal(self.w.scene.node_items[nid].sceneBoundingRect())
        return nid

    def port_released(self, node_id: str, port: int, from_output: bool,
                      scene_pos: QPointF) -> None:
        """A port dragged into empty canvas: pick the layer to wire there."""
        self.w.view.open_quick_add(
            scene_pos, then=lambda t, p: self.add_connected(t, p, node_id, port, from_output),
            exclude={"InputLayer"} if from_output else frozenset())

    def add_connected(self, type_name: str, scene_pos: QPointF, node_id: str, port: int,
                      from_output: bool) -> str | None:
        if node_id not in self.w.editor.doc.nodes:
            return None
        x = scene_pos.x() if from_output else scene_pos.x() - NODE_WIDTH
        pos = self.w.scene.snap(QPointF(x, scene_pos.y() - PORT_DROP_Y))
        return self._show_new(self.w.editor.add_connected(type_name, (pos.x(), pos.y()),
                                                          node_id, port, from_output))


def clipboard_has_layers() -> bool:
    mime = QGuiApplication.clipboard().mimeData()
    if mime is None:
        return False
    if mime.hasFormat(clipboard.MIME_TYPE):
        return True
    try:
        clipboard.fragment_from_text(mime.text())
    except ValueError:
        return False
    return True
