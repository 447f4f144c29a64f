"""Mint and revoke API keys: ``python -m dfdet.serve.apikeys add NAME --file FILE`` prints a new key once and
appends its hash line to FILE; ``revoke NAME --file FILE`` removes it. See :mod:`dfdet.serve.keys`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from dfdet.serve.keys import mint, parse_entries


def main(argv: list[str] | None = None) -> None:
    """``python -m dfdet.serve.apikeys add NAME --file FILE``: mints a key, prints it once, appends its hash line."""
    parser = argparse.ArgumentParser(prog="python -m dfdet.serve.apikeys", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="mint a key: print it once, append its hash to --file (or print the line)")
    add.add_argument("name", help="who holds the key (letters, digits, _.@-), shown in logs and metrics")
    add.add_argument("--file", type=Path, help="the key file (created with mode 600); without it the line is printed")
    revoke = commands.add_parser("revoke", help="remove a key's line from --file")
    revoke.add_argument("name")
    revoke.add_argument("--file", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "add":
        key, line = mint(args.name)
        if args.file is not None:
            existing = parse_entries(args.file.read_text().splitlines(), str(args.file)) if args.file.exists() else {}
            if args.name in existing.values():
                raise SystemExit(f"error: {args.file} already has a key named {args.name!r} (revoke it first)")
            args.file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(args.file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as out:
                out.write(line + "\n")
            print(f"# added {args.name!r} to {args.file}; the key is shown only now:")
        else:
            print(f"# key file line (store it; the key is shown only now): {line}")
        print(key)
    else:
        lines = args.file.read_text().splitlines()
        kept = [line for line in lines if line.split(maxsplit=1)[:1] != [args.name]]
        if len(kept) == len(lines):
            raise SystemExit(f"error: no key named {args.name!r} in {args.file}")
        args.file.write_text("".join(f"{line}\n" for line in kept))
        print(f"# revoked {args.name!r} (restart the server to apply)")


if __name__ == "__main__":
    main()
