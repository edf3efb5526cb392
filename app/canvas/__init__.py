"""The node-editor canvas: items draw the GraphDocument and forward gestures; they own no
graph state. scene.py follows the document, view.py is the widget (zoom, pan, drops)."""
