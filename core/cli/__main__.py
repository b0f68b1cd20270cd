"""``python -m core.cli``: the command line without the studio launcher."""

from core.cli import main

raise SystemExit(main())
