"""Data preprocessing as in ``keras.preprocessing``: ``sequence`` (pad_sequences), ``text``
(Tokenizer, TextVectorization) and ``image`` (ImageDataGenerator, load_img), each imported on
first use (``engine.preprocessing.sequence.pad_sequences`` works after ``import engine``)."""
import importlib

_SUBMODULES = ("image", "sequence", "text")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"engine.preprocessing.{name}")
    raise AttributeError(f"module 'engine.preprocessing' has no attribute {name!r}")
