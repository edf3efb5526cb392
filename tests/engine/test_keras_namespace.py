"""``import engine as keras``: the names Keras 3 scripts reach through the top-level module."""
import numpy as np
import pytest

import engine as keras


def test_top_level_names_as_in_keras():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    assert isinstance(model, keras.Model) and keras.models.Sequential is keras.Sequential
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    history = model.fit(np.zeros((4, 3)), np.array([0, 1, 0, 1]), epochs=1, verbose=0,
                        callbacks=[keras.callbacks.History()])
    assert len(history.history["loss"]) == 1
    assert keras.utils.to_categorical([1], 3).tolist() == [[0, 1, 0]]
    assert keras.preprocessing.sequence.pad_sequences([[1, 2]], maxlen=3).tolist() == [[0, 1, 2]]
    assert callable(keras.datasets.mnist.load_data) and callable(keras.load_model)


def test_unknown_names_fail_like_attributes():
    with pytest.raises(AttributeError, match="no attribute 'Sequentail'"):
        keras.Sequentail
    with pytest.raises(AttributeError, match="no attribute 'audio'"):
        keras.preprocessing.audio
