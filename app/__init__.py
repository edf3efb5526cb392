"""LayerLoom's desktop app (PySide6): the canvas, panels and main window over ``engine``.

The app is a view of ``engine.graph.GraphDocument``; every edit goes through a QUndoCommand
(``app.commands``) that calls the document, and the canvas follows the document's events.
"""
