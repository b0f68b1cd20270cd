"""Settings the studio remembers between sessions (QSettings, versioned).

Stored as an INI file in the studio home, so tests (which point
``BERT_STUDIO_HOME`` at a temporary folder) never touch the user's settings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

SETTINGS_VERSION = 1
MAX_RECENT = 8


class StudioSettings:
    def __init__(self, path: str | None = None):
        from core.env import studio_home

        self.qs = QSettings(path or str(studio_home() / "studio.ini"), QSettings.Format.IniFormat)
        version = int(self.qs.value("version", 0) or 0)
        if version < SETTINGS_VERSION:
            self._migrate(version)

    def _migrate(self, version: int) -> None:
        # Version 0 is "nothing stored yet"; later versions rename keys here.
        self.qs.setValue("version", SETTINGS_VERSION)

    # -- window --------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        return self.qs.value("window/geometry")

    def window_state(self) -> QByteArray | None:
        return self.qs.value("window/state")

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qs.setValue("window/geometry", geometry)
        self.qs.setValue("window/state", state)

    # -- recent items ----------------------------------------------------
    def recent(self, kind: str) -> list[str]:
        value = self.qs.value(f"recent/{kind}", [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-item list
            value = [value]
        return [v for v in (value or []) if v]

    def add_recent(self, kind: str, item: str) -> None:
        items = [item] + [v for v in self.recent(kind) if v != item]
        self.qs.setValue(f"recent/{kind}", items[:MAX_RECENT])

    # -- data sources and their column mappings ---------------------------
    def data_mapping(self, source: str) -> dict | None:
        """The column mapping last accepted for the data ``source`` (see :meth:`add_recent_data`), if any."""
        mapping = self._data_mappings().get(source)
        return dict(mapping) if isinstance(mapping, dict) else None

    def add_recent_data(self, source: str, mapping: dict) -> None:
        """Remember ``source`` first among the recent data, with its ``text/text_pair/label_column`` mapping."""
        self.add_recent("data", source)
        kept = set(self.recent("data"))
        mappings = {k: v for k, v in self._data_mappings().items() if k in kept}
        mappings[source] = dict(mapping)
        self.qs.setValue("recent/data_mappings", json.dumps(mappings))

    def _data_mappings(self) -> dict:
        # JSON, not nested QSettings groups: the keys are file paths, which QSettings would mangle.
        try:
            value = json.loads(str(self.qs.value("recent/data_mappings", "{}") or "{}"))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    # -- database --------------------------------------------------------
    # A location chosen in the studio is the user's most deliberate word on it, so it wins on every start;
    # BERT_STUDIO_DB is the default until a choice is made (and again after "Use default").
    def database_choice(self) -> tuple[str, str]:
        """``(url, origin)`` of the runs database to open; origin is "chosen", "environment" or "default"."""
        chosen = str(self.qs.value("database/url", "") or "")
        if chosen:
            return chosen, "chosen"
        return self.default_database()

    def default_database(self) -> tuple[str, str]:
        """``(url, origin)`` used when nothing is chosen: $BERT_STUDIO_DB, else studio.db in the studio home."""
        from core.env import default_database_url

        if os.environ.get("BERT_STUDIO_DB"):
            return os.environ["BERT_STUDIO_DB"], "environment"
        return default_database_url(), "default"

    def database_url(self) -> str:
        return self.database_choice()[0]

    def set_database_url(self, url: str) -> None:
        self.qs.setValue("database/url", url)

    def clear_database_url(self) -> None:
        """Forget the chosen location: the next start (and this one, if asked) uses the default."""
        self.qs.remove("database/url")

    # -- device ----------------------------------------------------------
    def device(self) -> str:
        """The device last chosen for runs: auto, cpu or cuda."""
        value = str(self.qs.value("run/device", "auto") or "auto")
        return value if value in ("auto", "cpu", "cuda") else "auto"

    def set_device(self, device: str) -> None:
        self.qs.setValue("run/device", device)

    def processes(self) -> int:
        """Processes per node last chosen for a data-parallel run (1: runs in the studio)."""
        try:
            return max(1, int(self.qs.value("run/processes", 1) or 1))
        except (TypeError, ValueError):
            return 1

    def set_processes(self, processes: int) -> None:
        self.qs.setValue("run/processes", int(processes))

    # -- file dialogs ----------------------------------------------------
    def last_folder(self, kind: str) -> str:
        """Where a file dialog for ``kind`` (recipes, models, data, exports) starts: the folder last used for it,
        else the last folder used for anything, else the home folder (never the working directory, which for a
        source checkout is the repository)."""
        for key in (f"folders/{kind}", "folders/any"):
            value = str(self.qs.value(key, "") or "")
            if value and Path(value).is_dir():
                return value
        return str(Path.home())

    def set_last_folder(self, kind: str, path: str | Path) -> None:
        """Remember the folder of ``path`` (a file, or a folder itself) for ``kind`` and for any dialog."""
        path = Path(path)
        folder = path if path.is_dir() else path.parent
        self.qs.setValue(f"folders/{kind}", str(folder))
        self.qs.setValue("folders/any", str(folder))

    def sync(self) -> None:
        self.qs.sync()
