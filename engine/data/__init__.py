"""The data side: file loaders, the declarative DataSource, summaries (Qt-free)."""
from engine.data.loaders import (DataError, list_image_folder, load_image, read_csv,  # noqa: F401
                                 read_idx, read_image_folder, read_npz)
from engine.data.source import DataSource, LoadedData, Summary, bundled_datasets  # noqa: F401
