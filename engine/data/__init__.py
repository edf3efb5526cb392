"""The data side (Qt-free): file loaders, the declarative DataSource, summaries, streaming.

``read_csv(path, label=..., features=None, header="auto", delimiter="auto")`` for scripts;
``DataSource`` for projects, the GUI and the CLI. Every problem is a :class:`DataError` that
names the file, line and column.
"""
from engine.data.errors import DataError  # noqa: F401
from engine.data.images import (array_to_img, img_to_array, list_image_folder,  # noqa: F401
                                load_image, load_img, read_image_folder, save_img)
from engine.data.loaders import (hdf5_datasets, read_hdf5, read_idx, read_npz,  # noqa: F401
                                 read_text_folder)
from engine.data.source import DataSource, LoadedData, bundled_datasets  # noqa: F401
from engine.data.streaming import ArraySequence, ImageFolderSequence, StreamedData  # noqa: F401
from engine.data.summary import Summary  # noqa: F401
from engine.data.tables import read_csv, read_table  # noqa: F401
