"""The PySide6 + pyqtgraph desktop studio. Depends on ``core``; ``core`` never imports it."""
