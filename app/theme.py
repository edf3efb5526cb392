"""Light and dark themes: the widget palette and the colours the canvas draws with."""
from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

# Palette category → header colour of its nodes and palette icons (same in both themes).
CATEGORY_COLORS: dict[str, str] = {
    "Input": "#3d7edb",
    "Core": "#2f9c8a",
    "Convolution": "#d9822b",
    "Pooling": "#8a63c4",
    "Normalization": "#b8972c",
    "Recurrent": "#c4577a",
    "Embedding": "#2d9fb5",
    "Merge": "#5f8f32",
    "Reshaping": "#6f7f92",
    "Regularization": "#b35c45",
    "Wrappers": "#5a6fd1",
    "Activation": "#9a7a2e",
}
DEFAULT_CATEGORY_COLOR = "#7a8694"


@dataclass(frozen=True)
class Theme:
    """Colours of one theme; ``canvas_*`` and ``node_*`` are read by the canvas items."""

    name: str
    window: str
    base: str
    alternate: str
    text: str
    dim_text: str
    button: str
    highlight: str
    canvas_bg: str
    grid_minor: str
    grid_major: str
    node_fill: str
    node_border: str
    node_text: str
    node_dim_text: str
    node_footer: str
    selection: str
    error: str
    warning: str
    edge: str
    edge_selected: str
    edge_label_bg: str
    edge_label_text: str
    port_fill: str
    port_border: str
    valid: str
    minimap_bg: str                   # #AARRGGBB (translucent)
    categories: dict[str, str] = field(default_factory=lambda: dict(CATEGORY_COLORS))

    def category_color(self, category: str) -> QColor:
        return QColor(self.categories.get(category, DEFAULT_CATEGORY_COLOR))

    @property
    def is_dark(self) -> bool:
        return QColor(self.window).lightness() < 128


LIGHT = Theme(
    name="light", window="#eef0f3", base="#ffffff", alternate="#f5f6f8", text="#1d2330",
    dim_text="#6b7382", button="#e6e9ee", highlight="#2f6fdb",
    canvas_bg="#f7f8fa", grid_minor="#eaedf1", grid_major="#dde1e7",
    node_fill="#ffffff", node_border="#c9ced6", node_text="#1d2330", node_dim_text="#6b7382",
    node_footer="#f1f3f6", selection="#2f6fdb", error="#d93636", warning="#e08a1e",
    edge="#8c95a3", edge_selected="#2f6fdb", edge_label_bg="#ffffff", edge_label_text="#4a5363",
    port_fill="#ffffff", port_border="#6b7382", valid="#2e9d5b", minimap_bg="#e6ffffff",
)

DARK = Theme(
    name="dark", window="#24272d", base="#1b1d22", alternate="#23262c", text="#dfe3ea",
    dim_text="#8e96a3", button="#30343b", highlight="#4a8af0",
    canvas_bg="#1b1d22", grid_minor="#23262c", grid_major="#2b2f36",
    node_fill="#2b2f36", node_border="#414650", node_text="#e6e9ef", node_dim_text="#9aa2ae",
    node_footer="#252930", selection="#5b9bff", error="#ff5a5a", warning="#f0a040",
    edge="#7b8492", edge_selected="#5b9bff", edge_label_bg="#2b2f36", edge_label_text="#c3c9d2",
    port_fill="#1b1d22", port_border="#9aa2ae", valid="#49c27d", minimap_bg="#e62b2f36",
)

THEMES: dict[str, Theme] = {"light": LIGHT, "dark": DARK}


def get_theme(name: str | None) -> Theme:
    """The theme called ``name`` (light when the name is unknown or empty)."""
    return THEMES.get((name or "light").lower(), LIGHT)


def apply_theme(app: QApplication, theme: Theme) -> None:
    """Fusion style with the theme's palette, so every widget follows light/dark."""
    if app.property("layerloom_theme") == theme.name:     # restyling every widget is slow
        return
    app.setProperty("layerloom_theme", theme.name)
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.Window: theme.window, QPalette.WindowText: theme.text,
        QPalette.Base: theme.base, QPalette.AlternateBase: theme.alternate,
        QPalette.Text: theme.text, QPalette.Button: theme.button,
        QPalette.ButtonText: theme.text, QPalette.ToolTipBase: theme.base,
        QPalette.ToolTipText: theme.text, QPalette.Highlight: theme.highlight,
        QPalette.HighlightedText: "#ffffff", QPalette.PlaceholderText: theme.dim_text,
        QPalette.Link: theme.highlight, QPalette.BrightText: theme.error,
        QPalette.Mid: theme.node_border, QPalette.Dark: theme.node_border,
    }
    for role, color in roles.items():
        pal.setColor(role, QColor(color))
    for role in (QPalette.Text, QPalette.ButtonText, QPalette.WindowText):
        pal.setColor(QPalette.Disabled, role, QColor(theme.dim_text))
    app.setPalette(pal)
    app.setStyleSheet(
        f"QDockWidget::title {{ background: {theme.window}; padding: 4px 6px;"
        f" font-weight: 600; }}"
        f"QToolTip {{ color: {theme.text}; background: {theme.base};"
        f" border: 1px solid {theme.node_border}; padding: 4px; }}"
        f"QLineEdit[invalid=\"true\"] {{ border: 1px solid {theme.error}; }}"
    )
