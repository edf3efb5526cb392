"""The seed MNIST CNN (Keras's mnist_convnet example) as a graph, built in code.

Used when the bundled ``examples/mnist_cnn.loom`` is missing, so the app always opens on a
real network.
"""
from __future__ import annotations

from engine.graph import GraphDocument

MNIST_CNN_LAYERS = (
    ("InputLayer", "input", {"shape": [28, 28, 1]}),
    ("Conv2D", "conv2d", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}),
    ("MaxPooling2D", "max_pooling2d", {"pool_size": [2, 2]}),
    ("Conv2D", "conv2d_1", {"filters": 64, "kernel_size": [3, 3], "activation": "relu"}),
    ("MaxPooling2D", "max_pooling2d_1", {"pool_size": [2, 2]}),
    ("Flatten", "flatten", {}),
    ("Dropout", "dropout", {"rate": 0.5}),
    ("Dense", "dense", {"units": 10, "activation": "softmax"}),
)


def mnist_cnn_graph() -> GraphDocument:
    """Input(28, 28, 1) → Conv2D 32 → MaxPool → Conv2D 64 → MaxPool → Flatten → Dropout
    → Dense 10 softmax, laid out left to right."""
    doc = GraphDocument(name="mnist_cnn")
    previous = None
    for type_name, name, params in MNIST_CNN_LAYERS:
        node = doc.add_node(type_name, params, name)
        if previous is not None:
            doc.connect(previous.id, node.id)
        previous = node
    doc.auto_layout()
    return doc
