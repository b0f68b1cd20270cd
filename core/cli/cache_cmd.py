"""``bert-studio cache info|clear``: the step cache beside the database (core.engine.cache)."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("cache", help="the step cache: what it holds, its size, clear it",
                       description="Finished runs leave their stack's prefixes (the fine-tuned teacher first) "
                                   "in a cache beside the database; later runs with the same leading steps "
                                   "start from there. The cap is $BERT_STUDIO_CACHE_GB (default 10).")
    ss = p.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    i = ss.add_parser("info", help="where the cache is, its size and cap, and its entries")
    _db_option(i)
    i.set_defaults(func=info)
    c = ss.add_parser("clear", help="remove every entry (runs and their figures stay)")
    _db_option(c)
    c.set_defaults(func=clear)


def _cache(args):
    from core.engine.cache import StepCache

    return StepCache.for_database(args.db)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def info(args) -> int:
    from core.cli.format import table

    cache = _cache(args)
    entries = sorted(cache.entries(), key=lambda e: e.created, reverse=True)
    print(f"step cache {cache.root}\nsize       {_mb(cache.size_bytes())} of {_mb(cache.cap_bytes)} "
          f"(least recently used entries go first)\nentries    {len(entries)}")
    if entries:
        rows = [[e.key[:12], str(e.steps), " -> ".join(e.methods), e.origins[-1][:8] if e.origins else "-",
                 _mb(e.size_bytes())] for e in entries]
        print()
        print(table(rows, ["entry", "steps", "methods", "from run", "size"]))
    return 0


def clear(args) -> int:
    cache = _cache(args)
    freed = cache.clear()
    print(f"step cache {cache.root} cleared: {_mb(freed)} freed")
    return 0


def _db_option(p) -> None:
    """``--db`` after the action too (the global one, before the command, still works)."""
    p.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help="experiment database (SQLAlchemy URL)")
