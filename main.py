"""Launch BERT Compression Studio on the embedded default model and data."""

from studio.launcher import main

if __name__ == "__main__":
    raise SystemExit(main([]))
