"""Process environment for offline, reproducible operation.

Must run before ``datasets`` or ``transformers`` are imported: those libraries
read the variables at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

OFFLINE_VARS = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_UPDATE_DOWNLOAD_COUNTS": "0",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
QUIET_VARS = {  # the studio shows its own progress; library bars would interleave with it
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


def studio_home() -> Path:
    """The folder holding the database, settings and run artifacts."""
    home = os.environ.get("BERT_STUDIO_HOME")
    path = Path(home) if home else Path.home() / ".local" / "share" / "bert-studio"
    path.mkdir(parents=True, exist_ok=True)
    return path


def configure_environment() -> None:
    """Default to offline Hugging Face libraries unless BERT_STUDIO_ONLINE=1.

    Values the user already set win, so a networked user can opt in.
    """
    if os.environ.get("BERT_STUDIO_ONLINE") != "1":
        for key, value in OFFLINE_VARS.items():
            os.environ.setdefault(key, value)
    for key, value in QUIET_VARS.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("HF_HOME", str(studio_home() / "hf-cache"))


def default_database_url() -> str:
    url = os.environ.get("BERT_STUDIO_DB")
    return url or f"sqlite:///{studio_home() / 'studio.db'}"
