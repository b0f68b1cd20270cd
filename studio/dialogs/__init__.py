"""Dialogs of the studio: errors with details, About, close-during-run confirmation."""
