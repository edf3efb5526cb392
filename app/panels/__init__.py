"""Dock panels around the canvas: palette, inspector, summary, problems and log."""
