"""File formats: Keras HDF5 models and weights, Keras script export.

Formats build models, so modules here import :mod:`engine.models`; models reach them only
through :mod:`engine.saving` when a model is saved."""

KERAS_VERSION = "3.15.1"  # the Keras version whose file formats we write
