"""ONNX export checked with ONNX Runtime: every palette layer (every intermediate tensor of the
zoo model, not only its outputs), the variants whose ONNX form differs (padding, strides,
recurrent directions and gate settings, merge modes, activations), the four example projects
(<= 1e-5), and layers ONNX cannot express named before anything is written."""
from pathlib import Path

import numpy as np
import pytest

from engine import layers as L
from engine.cli import main
from engine.io.onnx_export import export_onnx, onnx_model
from engine.io.onnx_graph import OnnxExportError
from engine.models import Model, Sequential
from engine.models.functional import nodes_in_plan
from engine.project import load_project
from tests.model_zoo import every_layer_inputs, every_layer_model, perturb

ort = pytest.importorskip("onnxruntime")
ROOT = Path(__file__).resolve().parents[2]


def _run_onnx(proto, xs):
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), xs)})


def _every_tensor(model) -> Model:
    """``model`` with the output of every layer call as an output."""
    calls = nodes_in_plan(model._plan)
    return Model(model.inputs, [calls[id(s.layer)].outputs[0] for s in model._plan.steps],
                 name=model.name)


def _assert_same(model, xs, tol=1e-5):
    ours = model.predict(xs, verbose=0)
    ours = ours if isinstance(ours, list) else [ours]
    theirs = _run_onnx(onnx_model(model), xs)
    for layer_out, a, b in zip(model.output_names, ours, theirs):
        assert a.shape == b.shape, layer_out
        assert np.abs(a - b).max() <= tol * max(1.0, float(np.abs(a).max())), layer_out


def test_every_palette_layer_matches_onnx_runtime_at_every_tensor():
    _assert_same(_every_tensor(every_layer_model()), every_layer_inputs())


def _variants() -> Model:
    img = L.Input((7, 6, 3), name="img")
    a = L.Conv2D(4, 3, strides=2, padding="same", dilation_rate=1, activation="gelu")(img)
    a = L.Conv2DTranspose(3, (3, 2), strides=2, padding="same", activation="selu")(a)
    a = L.Conv2DTranspose(2, 3, strides=2, padding="valid", output_padding=1)(a)
    a = L.Conv2DTranspose(2, 1, strides=3)(a)                      # kernel < stride
    a = L.MaxPooling2D(3, strides=2, padding="same")(a)
    a = L.AveragePooling2D(2, padding="same")(a)
    a = L.UpSampling2D((2, 3), interpolation="bilinear")(a)
    a = L.Conv2D(2, 3, dilation_rate=2, activation="mish")(a)
    a = L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2)(a)
    a = L.GlobalMaxPooling2D(keepdims=True)(a)
    a = L.Dense(5, activation="swish")(L.Flatten()(a))
    seq = L.Input((6, 3), name="seq")
    s = L.Normalization(mean=[0.5, -1.0, 2.0], variance=[1.0, 4.0, 0.25])(seq)
    s1 = L.LSTM(4, return_sequences=True, go_backwards=True,
                recurrent_activation="hard_sigmoid")(s)
    s2 = L.GRU(4, reset_after=False, return_sequences=True, activation="relu")(s)
    s3 = L.SimpleRNN(4, go_backwards=True)(s)
    s4 = L.Bidirectional(L.GRU(4, return_sequences=True), merge_mode="ave")(s)
    s5 = L.Bidirectional(L.SimpleRNN(3), merge_mode="sum")(s)
    s6 = L.Bidirectional(L.LSTM(3), merge_mode="mul")(s)
    t = L.Concatenate(axis=1)([s1, s2, s4])
    t = L.Dense(5, activation="softplus")(L.GlobalAveragePooling1D()(t))
    out = L.Concatenate()([a, t, s3, s5, s6, L.Dense(5, activation="hard_sigmoid")(t)])
    model = Model([img, seq], [L.Dense(3, activation="softsign")(out)], name="variants")
    perturb(model, seed=3)
    return model


def test_padding_strides_recurrent_directions_and_activations_match():
    rng = np.random.default_rng(2)
    xs = [rng.normal(size=(2, 7, 6, 3)).astype(np.float32),
          rng.normal(size=(2, 6, 3)).astype(np.float32)]
    _assert_same(_every_tensor(_variants()), xs)


@pytest.mark.parametrize("name", ["mnist_mlp", "mnist_cnn", "cifar10_cnn", "imdb_lstm"])
def test_example_projects_predict_the_same(name, tmp_path):
    project = load_project(ROOT / "examples" / f"{name}.loom")
    model = project.build_model()
    perturb(model, seed=11)
    shape = model.inputs[0].shape[1:]
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 10000, (4, *shape)).astype(np.int32) if name == "imdb_lstm"
         else rng.random((4, *shape)).astype(np.float32))
    export_onnx(model, tmp_path / f"{name}.onnx")
    sess = ort.InferenceSession(str(tmp_path / f"{name}.onnx"),
                                providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {sess.get_inputs()[0].name: x})
    assert np.abs(got - model.predict(x, verbose=0)).max() <= 1e-5


def test_layers_onnx_cannot_express_are_all_named(tmp_path):
    class Doubled(L.Dense):
        def forward(self, x, training=False):
            return 2 * super().forward(x, training)
    tok = L.Input((5,), dtype="int32")
    h = L.Embedding(9, 3, mask_zero=True)(tok)
    h = L.LSTM(2, name="masked")(h)
    model = Model(tok, Doubled(2, name="twice")(h), name="bad")
    with pytest.raises(OnnxExportError) as info:
        export_onnx(model, tmp_path / "bad.onnx")
    msg = str(info.value)
    assert "layer 'masked' (LSTM)" in msg and "mask" in msg
    assert "layer 'twice' (Doubled)" in msg and "\n" not in msg
    assert not (tmp_path / "bad.onnx").exists()


def test_cli_exports_onnx(tmp_path):
    model = Sequential([L.Input((3,)), L.Dense(2, activation="softmax")], name="s")
    from engine.graph import document_from_model
    from engine.project import Project, save_project
    save_project(Project(document_from_model(model)), tmp_path / "p.loom")
    assert main(["export", str(tmp_path / "p.loom"), str(tmp_path / "p.onnx")]) == 0
    sess = ort.InferenceSession(str(tmp_path / "p.onnx"), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {sess.get_inputs()[0].name: np.ones((2, 3), np.float32)})
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
