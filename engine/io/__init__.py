"""File formats: Keras HDF5 models and weights, .loom projects, Keras script export."""
