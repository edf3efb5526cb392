"""Does real Keras open our .h5 files and predict what we predict? (needs the Keras venv)

    python -m bench.keras_roundtrip

Saves engine models (MLP, Functional 2-in-2-out, seed CNN, conv/BN/pool, the seed LSTM with
masking, Bidirectional GRU + SimpleRNN, a one-output Functional model with Rescaling and an
adapted Normalization, an autoencoder with Conv2DTranspose, Cropping2D and bilinear
UpSampling2D) with ``model.save``, loads each with ``keras.models.load_model`` in the
Keras venv (bench/workloads/peers.py), and prints the largest prediction difference per model.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.workloads.peers import peer_python  # noqa: E402

KERAS_SIDE = r"""
import json, sys, numpy as np, keras
out = {}
for path in sys.argv[1:]:
    io = np.load(path + ".npz")
    xs = [io[k] for k in sorted(io.files) if k.startswith("x")]
    try:
        m = keras.models.load_model(path)
        p = m.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        p = p if isinstance(p, (list, tuple)) else [p]
        ys = [io[k] for k in sorted(io.files) if k.startswith("y")]
        out[path] = {"max_abs_diff": max(float(np.abs(a - b).max()) for a, b in zip(p, ys)),
                     "compiled": m.optimizer is not None}
    except Exception as e:
        out[path] = {"error": f"{type(e).__name__}: {e}"[:300]}
print(json.dumps(out))
"""


def models():
    from engine import Input
    from engine.layers import (Activation, Add, AveragePooling2D, BatchNormalization,
                               Concatenate, Conv2D, Dense, Dropout, Flatten,
                               GlobalAveragePooling2D, MaxPooling2D)
    from engine.models import Model, Sequential
    r = np.random.default_rng(0)
    mlp = Sequential([Dense(64, activation="relu", input_dim=100), Dense(10, activation="softmax")])
    mlp.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    yield "mlp", mlp, [r.standard_normal((8, 100))]
    a, b = Input(shape=(12,), name="a"), Input(shape=(6,), name="b")
    d5, d6 = Dense(8, activation="tanh")(a), Dense(8, activation="sigmoid")(b)
    c = Concatenate()([Add()([d5, d6]), d6])
    fn = Model([a, b], [Dense(3, activation="softmax", name="cls")(c), Dense(1, name="reg")(c)])
    fn.compile("sgd", ["categorical_crossentropy", "mse"])
    yield "functional", fn, [r.standard_normal((5, 12)), r.standard_normal((5, 6))]
    cnn = Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
                      MaxPooling2D((2, 2)), Dropout(0.25), Flatten(), Dense(128, activation="relu"),
                      Dropout(0.5), Dense(10, activation="softmax")])
    cnn.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    yield "seed_cnn", cnn, [r.random((4, 28, 28, 1))]
    bn = Sequential([Input(shape=(16, 16, 3)), Conv2D(8, 3, strides=2, padding="same"),
                     BatchNormalization(), Activation("relu"), AveragePooling2D(), Conv2D(4, 1),
                     GlobalAveragePooling2D(), Dense(5, activation="softmax")])
    bn.compile("rmsprop", "categorical_crossentropy")
    for w in bn.layers[1].weights:  # move BN statistics off their defaults
        w.assign(r.uniform(0.5, 1.5, w.shape))
    yield "conv_bn_pool", bn, [r.standard_normal((3, 16, 16, 3))]
    from engine.layers import (GRU, LSTM, Bidirectional, Embedding, Normalization, Rescaling,
                               SimpleRNN)
    lstm = Sequential([Input(shape=(20,), dtype="int32"), Embedding(1000, 16, mask_zero=True),
                       LSTM(12), Dense(1, activation="sigmoid")])
    lstm.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    ids = r.integers(1, 1000, (4, 20))
    ids[:, :5] = 0                                  # padding, masked
    yield "seed_lstm", lstm, [ids]
    rnn = Sequential([Input(shape=(7, 5)), Bidirectional(GRU(6, return_sequences=True)),
                      SimpleRNN(4), Dense(2)])
    rnn.compile("adam", "mse")
    yield "gru_bidirectional", rnn, [r.standard_normal((3, 7, 5))]
    pixels = Input(shape=(8, 8, 3), name="pixels")
    norm = Normalization(name="norm")
    norm.adapt(r.integers(0, 256, (20, 8, 8, 3)) / 255.0)
    h = Flatten()(Conv2D(4, 3, activation="relu")(norm(Rescaling(1 / 255)(pixels))))
    pre = Model(pixels, Dense(3, activation="softmax", name="probs")(h))
    pre.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    yield "rescaling_normalization", pre, [r.integers(0, 256, (4, 8, 8, 3)).astype(float)]
    from engine.layers import Conv2DTranspose, Cropping2D, UpSampling2D
    auto = Sequential([Input(shape=(12, 12, 1)), Conv2D(8, 3, strides=2, padding="same",
                                                         activation="relu"),
                       Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu"),
                       Cropping2D(((1, 1), (2, 0))), UpSampling2D(2, interpolation="bilinear"),
                       Conv2DTranspose(1, 3, output_padding=None, activation="sigmoid")])
    auto.compile("adam", "binary_crossentropy")
    yield "autoencoder_transpose", auto, [r.random((3, 12, 12, 1))]


def main() -> None:
    python = peer_python("keras")
    if python is None:
        print("keras venv not found (set LAYERLOOM_KERAS_PYTHON); nothing checked")
        return
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, model, xs in models():
            path = str(Path(tmp) / f"{name}.h5")
            model.save(path)
            preds = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
            preds = preds if isinstance(preds, list) else [preds]
            np.savez(path + ".npz", **{f"x{i}": x.astype(np.float32) for i, x in enumerate(xs)},
                     **{f"y{i}": p for i, p in enumerate(preds)})
            paths.append(path)
        out = subprocess.run([python, "-c", KERAS_SIDE, *paths], capture_output=True, text=True,
                             env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
        if out.returncode != 0:
            print(out.stderr[-3000:])
            return
        result = json.loads(out.stdout.strip().splitlines()[-1])
        for path, r in result.items():
            print(f"keras_roundtrip {Path(path).stem}: {r}")


if __name__ == "__main__":
    main()
