"""Data sets with Keras's ``load_data()`` API (``keras.datasets`` → ``engine.datasets``).

``mnist``, ``fashion_mnist``, ``cifar10`` and ``imdb`` download the published files once (cache,
checksum, resumable; see :mod:`engine.datasets.download`). ``bundled`` and ``sentences`` are the
real samples shipped in ``resources/`` that work offline. :mod:`engine.datasets.catalog` lists
the downloadable ones a project's data source can name (``{"kind": "keras_dataset", ...}``).
"""
from engine.datasets import bundled, cifar10, fashion_mnist, imdb, mnist, sentences  # noqa: F401
from engine.datasets.download import DatasetUnavailableError, DownloadCancelled, DownloadError  # noqa: F401
