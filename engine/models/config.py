"""Models from their JSON configs (``keras.models.model_from_config`` / ``model_from_json``).

Custom layers and functions a config names are found in the registry
(``keras.saving.register_keras_serializable``), in ``custom_objects=`` and in an enclosing
``custom_object_scope``."""
from __future__ import annotations

import json
from typing import Any

from engine.models.model import Model
from engine.models.sequential import Sequential
from engine.saving.object_registration import custom_objects_added


def model_from_config(data: dict[str, Any], custom_objects=None,
                      safe_mode: bool | None = True) -> Model:
    """A model from ``{"class_name": "Sequential" | "Functional", "config": ...}``. Classes
    of custom layers are found in ``custom_objects`` or the registry; Lambda code in the
    config runs only with ``safe_mode=False`` (None: as the enclosing loader says)."""
    from engine.saving.safe_mode import SafeModeScope
    if not isinstance(data, dict):
        raise ValueError("model config must be a JSON object")
    kind = data.get("class_name")
    cfg = data.get("config")
    if not isinstance(cfg, dict):
        raise ValueError("model config: missing the 'config' object")
    with custom_objects_added(custom_objects), SafeModeScope(safe_mode):
        if kind == "Sequential":
            return Sequential.from_config(cfg)
        if kind in ("Functional", "Model"):
            return Model.from_config(cfg)
    raise ValueError(f"model config: class_name must be 'Sequential' or 'Functional', got {kind!r}")


def model_from_json(json_string: str, custom_objects=None, safe_mode: bool = True) -> Model:
    try:
        data = json.loads(json_string)
    except json.JSONDecodeError as e:
        raise ValueError(f"model_from_json: not valid JSON ({e})") from None
    return model_from_config(data, custom_objects=custom_objects, safe_mode=safe_mode)
