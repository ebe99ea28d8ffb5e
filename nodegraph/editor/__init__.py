"""The desktop editor: ``session`` (everything, without a screen) and ``view``/``app`` (dearpygui)."""
