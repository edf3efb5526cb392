"""File formats: Keras HDF5 models and weights, Keras script export.

Shared by every reader and writer of user files: :mod:`~engine.io.bounded` (memory budgets,
zip members and HDF5 objects read without trusting them), :mod:`~engine.io.atomic` (the one
atomic writer), :mod:`~engine.io.pysource` (generated code from checked names and literals)
and :class:`~engine.io.errors.ModelFileError`.

Formats build models, so modules here import :mod:`engine.models`; models reach them only
through :mod:`engine.saving` when a model is saved."""

KERAS_VERSION = "3.15.1"  # the Keras version whose file formats we write
