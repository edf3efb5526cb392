"""``model.summary()``: the Keras-like table of layers, output shapes and parameter counts."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SummaryRow:
    name: str
    type_name: str
    output_shape: str
    params: int
    connected_to: str


def format_shape(shape) -> str:
    if isinstance(shape, dict):
        return ", ".join(format_shape(s) for s in shape.values())
    if isinstance(shape, list) or (isinstance(shape, tuple) and shape
                                   and isinstance(shape[0], (tuple, list))):
        return ", ".join(format_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def summary_rows(model) -> list[SummaryRow]:
    from engine.models import Sequential
    rows = []
    plan = model._plan
    layers = model.layers if plan is None else plan.layers
    hide_input = isinstance(model, Sequential)
    for layer in layers:
        if hide_input and layer.type_name == "InputLayer":
            continue
        sources = []
        for node in layer._nodes[-1:]:
            sources = [t.node.layer.name for t in node.inputs if t.node is not None]
        rows.append(SummaryRow(layer.name, layer.type_name,
                               format_shape(layer.output_shape) if layer.output_shape is not None else "?",
                               layer.count_params(), ", ".join(sources)))
    return rows


def _size(n: int) -> str:
    b = n * 4
    for unit in ("B", "KB", "MB", "GB"):
        if b < 1024 or unit == "GB":
            return f"{b:.2f} {unit}" if unit != "B" else f"{b} B"
        b /= 1024
    return ""


def format_summary(model, line_length: int = 80) -> str:
    from engine.models import Sequential
    rows = summary_rows(model)
    functional = not isinstance(model, Sequential)
    cols = [0.4, 0.7, 1.0] if not functional else [0.3, 0.55, 0.67, 1.0]
    stops = [int(line_length * c) for c in cols]
    heads = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])

    def line(fields):
        out, start = "", 0
        for f, stop in zip(fields, stops):
            cell = " " + str(f)
            out += cell[:stop - start - 1].ljust(stop - start)
            start = stop
        return out.rstrip()

    trainable = sum(w.size for w in model.trainable_weights)
    total = model.count_params()
    parts = [f'Model: "{model.name}"', "_" * line_length, line(heads), "=" * line_length]
    for i, r in enumerate(rows):
        fields = [f"{r.name} ({r.type_name})", r.output_shape, r.params]
        if functional:
            fields.append(r.connected_to)
        parts.append(line(fields))
        if i < len(rows) - 1:
            parts.append("")
    parts += ["=" * line_length,
              f"Total params: {total:,} ({_size(total)})",
              f"Trainable params: {trainable:,} ({_size(trainable)})",
              f"Non-trainable params: {total - trainable:,} ({_size(total - trainable)})",
              "_" * line_length]
    return "\n".join(parts)
