"""Small models for format tests: every palette layer type in one Functional graph (three inputs,
two outputs), and inputs for it. Weights are perturbed so that zeros and ones (fresh biases,
batch-norm statistics) cannot hide a weight that went to the wrong place."""
import numpy as np

from engine import layers as L
from engine.models import Model, Sequential


def every_layer_model(name: str = "zoo") -> Model:
    img = L.Input((6, 6, 3), name="img")
    seq = L.Input((5, 4), name="seq")
    tok = L.Input((5,), dtype="int32", name="tok")
    a = L.Conv2D(2, 3, padding="same", activation="relu")(img)
    a = L.Conv2DTranspose(2, 3, strides=2)(a)
    a = L.BatchNormalization()(a)
    a = L.LayerNormalization()(a)
    a = L.Cropping2D(1)(L.ZeroPadding2D(1)(a))
    a = L.UpSampling2D(1)(a)
    a = L.AveragePooling2D(1)(L.MaxPooling2D(2)(a))
    a = L.Concatenate()([L.GlobalAveragePooling2D()(a), L.GlobalMaxPooling2D()(a)])
    a = L.Dense(6, activation="tanh")(a)
    a = L.ELU()(L.LeakyReLU()(L.ReLU(max_value=2.0)(a)))
    a = L.GaussianNoise(0.1)(L.Dropout(0.3)(L.Rescaling(0.5, 0.1)(a)))
    b = L.Conv1D(4, 2, padding="causal")(seq)
    b = L.AveragePooling1D(1)(L.MaxPooling1D(2)(b))
    b = L.GRU(4, return_sequences=True)(L.SimpleRNN(3, return_sequences=True)(b))
    b2, b3 = L.GlobalMaxPooling1D()(b), L.GlobalAveragePooling1D()(b)
    b = L.Dense(6)(L.Bidirectional(L.LSTM(3))(b))
    b = L.Add()([b, L.Dense(6)(b2), L.Dense(6)(b3)])
    c = L.TimeDistributed(L.Dense(2))(L.Embedding(10, 4)(tok))
    c = L.Flatten()(L.RepeatVector(2)(L.Reshape((10,))(L.Permute((2, 1))(c))))
    c = L.Dense(6)(c)
    m = L.Multiply()([L.Subtract()([a, b]), c])
    m = L.Minimum()([L.Maximum()([L.Average()([m, c]), a]), b])
    m = L.Softmax()(L.Activation("softmax")(m))
    model = Model([img, seq, tok], [m, L.Dense(1, name="value")(c)], name=name)
    perturb(model)
    return model


def perturb(model, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([np.abs(a) + 0.5 if "variance" in w.name else
                               a + 0.1 * rng.standard_normal(a.shape).astype(np.float32)
                               for a, w in zip(layer.get_weights(), layer.weights)])


def every_layer_inputs(n: int = 3, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, 6, 6, 3)).astype(np.float32),
            rng.normal(size=(n, 5, 4)).astype(np.float32),
            rng.integers(0, 10, (n, 5)).astype(np.int32)]


def trained_mlp(batch_norm: bool = False):
    """(model, x, y): a small compiled Sequential MLP trained 2 epochs with Adam (8 steps)."""
    layers = [L.Input((4,)), L.Dense(5, activation="relu", name="hidden")]
    layers += [L.BatchNormalization(name="bn")] if batch_norm else []
    model = Sequential(layers + [L.Dense(3, activation="softmax", name="out")], name="mlp")
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 32)]
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    return model, x, y
