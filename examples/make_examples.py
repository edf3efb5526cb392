"""Rebuild the example projects (examples/*.loom) from the seed tutorials.

    .venv/bin/python examples/make_examples.py [cifar10_cnn ...]

mnist_mlp / mnist_cnn train on the bundled real MNIST (pixels scaled to [0, 1] by the data
source, so exported models take inputs in [0, 1]); cifar10_cnn trains on CIFAR-10, downloaded
from the Data panel (sha256-checked) or read from the user's copy of Keras's files; imdb_lstm trains on the bundled labelled sentences (token ids, length 40).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.graph import GraphDocument  # noqa: E402
from engine.project import Project, TrainingConfig, save_project  # noqa: E402
from engine.registry import LAYERS  # noqa: E402

HERE = Path(__file__).resolve().parent


def chain(name: str, layers: list[tuple[str, dict]]) -> GraphDocument:
    g = GraphDocument(name)
    prev = None
    for type_name, params in layers:
        node = g.add_node(type_name, params)
        if prev is not None:
            g.connect(prev.id, node.id)
        prev = node
    g.auto_layout()
    return g


def mnist_mlp() -> Project:
    p = Project(chain("mnist_mlp", [("InputLayer", {"shape": [28, 28]}), ("Flatten", {}),
                                    ("Dense", {"units": 128, "activation": "relu"}),
                                    ("Dense", {"units": 10, "activation": "softmax"})]))
    p.data_source = {"kind": "bundled", "name": "mnist", "one_hot": True}
    p.training = TrainingConfig(optimizer="adam", loss="categorical_crossentropy",
                                metrics=["accuracy"], batch_size=32, epochs=5,
                                validation_split=0.1)
    return p


def mnist_cnn() -> Project:
    p = Project(chain("mnist_cnn", [
        ("InputLayer", {"shape": [28, 28, 1]}),
        ("Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}),
        ("MaxPooling2D", {"pool_size": [2, 2]}), ("Dropout", {"rate": 0.25}), ("Flatten", {}),
        ("Dense", {"units": 128, "activation": "relu"}), ("Dropout", {"rate": 0.5}),
        ("Dense", {"units": 10, "activation": "softmax"})]))
    p.data_source = {"kind": "bundled", "name": "mnist", "shape": [28, 28, 1], "one_hot": True}
    p.training = TrainingConfig(optimizer="adam", loss="categorical_crossentropy",
                                metrics=["accuracy"], batch_size=128, epochs=3,
                                validation_split=0.2)
    return p


def cifar10_cnn() -> Project:
    p = Project(chain("cifar10_cnn", [
        ("InputLayer", {"shape": [32, 32, 3]}),
        ("Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}),
        ("MaxPooling2D", {"pool_size": [2, 2]}),
        ("Conv2D", {"filters": 64, "kernel_size": [3, 3], "activation": "relu"}),
        ("MaxPooling2D", {"pool_size": [2, 2]}), ("Flatten", {}),
        ("Dense", {"units": 10, "activation": "softmax"})]))
    # downloaded once from the Data panel (or the user's copy of Keras's files)
    p.data_source = {"kind": "keras_dataset", "name": "cifar10", "one_hot": True}
    p.training = TrainingConfig(optimizer="adam", loss="categorical_crossentropy",
                                metrics=["accuracy"], batch_size=32, epochs=10,
                                validation_split=0.1)
    return p


def imdb_lstm() -> Project:
    p = Project(chain("imdb_lstm", [
        ("InputLayer", {"shape": [40], "dtype": "int32"}),
        ("Embedding", {"input_dim": 10000, "output_dim": 128}), ("LSTM", {"units": 128}),
        ("Dense", {"units": 1, "activation": "sigmoid"})]))
    p.data_source = {"kind": "bundled", "name": "sentences"}
    p.training = TrainingConfig(optimizer="adam", loss="binary_crossentropy",
                                metrics=["accuracy"], batch_size=32, epochs=5,
                                validation_split=0.2)
    return p


def main(names: list[str]) -> None:
    builders = [mnist_mlp, mnist_cnn, cifar10_cnn]
    if {"Embedding", "LSTM"} <= set(LAYERS):
        builders.append(imdb_lstm)
    for build in builders:
        if names and build.__name__ not in names:
            continue
        out = save_project(build(), HERE / f"{build.__name__}.loom")
        print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])          # names of the examples to rebuild (default: all)
