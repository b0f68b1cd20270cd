"""Migration scripts, one per schema revision (a package so the wheel ships them)."""
