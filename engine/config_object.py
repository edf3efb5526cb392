"""Shared base of objects saved as Keras-style ``{"class_name", "config"}`` dicts
(initializers, regularizers, constraints)."""
from __future__ import annotations

from typing import Any


class ConfigObject:
    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        """The object a :meth:`get_config` dict describes (Keras's default: ``cls(**config)``)."""
        return cls(**config)

    def get_config_dict(self) -> dict[str, Any]:
        return {"class_name": type(self).__name__, "config": self.get_config()}

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"
