"""CustomLayer: the canvas's own layer written in Python — the body of a Keras Layer subclass.

Its ``source`` defines ``build(self, input_shape)`` (optional, makes the weights with
``self.add_weight``), ``call(self, x)`` (the computation, written with ``ops``; it may take
``training``) and optionally ``compute_output_shape(self, input_shape)`` — see
:mod:`engine.saving.layer_source` for the exact form. ``call`` runs like a user layer's: on
arrays in inference, recorded on a tape while training, so it is differentiated; without
``compute_output_shape`` the output shape is found by running it on zero batches.

The source is code: built from a file (a project, an .h5, a JSON config) it runs only with the
user's consent (``safe_mode=False``). In files for Keras it is the registered class
``LayerLoom>ClassName`` (:meth:`CustomLayer.keras_config`), with the source kept beside the
config (``layerloom_source``) so that LayerLoom can rebuild it; exported scripts define that
class from the same source.
"""
from __future__ import annotations

from typing import Any

from engine.layers import tracking
from engine.layers.base import Layer
from engine.registry import Param, register
from engine.saving.layer_source import (
    EXAMPLE_SOURCE,
    KERAS_PACKAGE,
    check_class_name,
    compile_layer_source,
)

SOURCE_KEY = "layerloom_source"     # beside a layer's Keras config: the class body's source


@register("Core", "Your own layer in Python: build() makes its weights, call(self, x) computes "
          "with ops — the body of a Keras Layer subclass.",
          [Param("class_name", "str", "MyDense", "The layer's class name (in exported files "
                 "and scripts: a class registered as LayerLoom>Name)."),
           Param("source", "code", EXAMPLE_SOURCE, "def build(self, input_shape) (optional) and "
                 "def call(self, x): the body of a keras.layers.Layer subclass, with ops.")],
          key_params=("class_name",))
class CustomLayer(Layer):
    """``CustomLayer(class_name, source)``: a layer whose class body is ``source``."""

    holds_code = True

    def _validate(self) -> None:
        check_class_name(self.class_name, self.where)
        self._methods = compile_layer_source(self.source, self.class_name, self.where)
        self._has_output_shape = "compute_output_shape" in self._methods
        import inspect
        params = inspect.signature(self._methods["call"]).parameters
        self._call_takes_training = "training" in params

    def build(self, input_shape) -> None:
        fn = self._methods.get("build")
        if fn is not None:
            fn(self, input_shape)

    def call(self, inputs, training=None):
        if self._call_takes_training:
            return self._methods["call"](self, inputs, training=training)
        return self._methods["call"](self, inputs)

    def compute_output_shape(self, input_shape):
        return self._methods["compute_output_shape"](self, input_shape)

    # ---------------------------------------------------------------- what it holds
    @property
    def weights(self):
        return self._tracked_weights()       # as a Keras subclass: sublayers' weights too

    def _sublayers(self) -> list[Layer]:
        return tracking.attribute_items(self, Layer)

    # ---------------------------------------------------------------- files for Keras
    @property
    def registered_name(self) -> str:
        return f"{KERAS_PACKAGE}>{self.class_name}"

    def keras_config(self, dtype_policy: dict | None = None) -> dict[str, Any]:
        """The Keras 3 form of this layer — the registered class (base arguments only, as a
        Keras subclass without __init__ arguments has) — plus its source for LayerLoom."""
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "dtype": dtype_policy if dtype_policy is not None
                                  else self.dtype}
        out = {"module": None, "class_name": self.class_name, "config": config,
               "registered_name": self.registered_name, SOURCE_KEY: self.source}
        build = self.get_build_config()
        if build is not None:
            out["build_config"] = build
        return out

    @classmethod
    def from_keras_config(cls, data: dict[str, Any]) -> CustomLayer:
        """The layer :meth:`keras_config` wrote (its code runs only with consent)."""
        config = data.get("config") if isinstance(data.get("config"), dict) else {}
        class_name = str(data.get("registered_name") or data.get("class_name") or "")
        class_name = class_name.split(">")[-1]
        kwargs = {k: config[k] for k in ("name", "trainable") if k in config}
        dtype = config.get("dtype")
        if isinstance(dtype, dict):
            dtype = (dtype.get("config") or {}).get("name")
        layer = cls(class_name=class_name, source=data[SOURCE_KEY], dtype=dtype, **kwargs)
        if data.get("build_config"):
            layer.build_from_config(data["build_config"])
        return layer
