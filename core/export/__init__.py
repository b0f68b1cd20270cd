"""Checkpoint export, reload and verification."""
