"""Read the corrections users sent through POST /feedback: export them as IDX files, or count them.

    mnist-feedback export --db feedback.sqlite3 --out corrections/
    mnist-feedback stats --db postgresql://user@host/db

`export` writes feedback-images-idx3-ubyte and feedback-labels-idx1-ubyte, readable by
mnist_mlp.data.idx (and `mnist-train --feedback`). `stats` prints, as JSON, how many
corrections there are per label and per model, and how often the model had been wrong.
"""

import collections
import json
from pathlib import Path

from ..data.feedback_set import is_database, write_corrections
from ..data.feedback_store import StoreUnavailable, open_store
from .cli import fail, parser

PROG = "mnist-feedback"


def parse_args(argv=None):
    cli = parser(PROG, __doc__)
    commands = cli.add_subparsers(dest="command", required=True)
    for name, what in (("export", "write the corrections as IDX files"), ("stats", "count the corrections")):
        command = commands.add_parser(name, help=what, description=what)
        command.add_argument(
            "--db", required=True, help="the FEEDBACK_DB: a SQLite file or a postgresql:// URL"
        )
        if name == "export":
            command.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write")
    return cli.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not is_database(args.db):
        fail(f"{args.db}: no such feedback database")
    try:
        rows = open_store(args.db).corrections()
    except StoreUnavailable as exc:
        fail(exc)
    if args.command == "stats":
        print(json.dumps(stats(rows), indent=2))
        return 0
    images = [row.pixels for row in rows]
    try:
        write_corrections(args.out, images, [row.label for row in rows])
    except OSError as exc:
        fail(f"cannot write {args.out}: {exc.strerror or exc}")
    print(f"wrote {len(rows)} corrections to {args.out}")
    return 0


def stats(rows):
    """Counts per label and per model, and how many of each the model had answered wrongly."""
    per_model = collections.defaultdict(lambda: {"corrections": 0, "wrong": 0})
    for row in rows:
        per_model[row.model]["corrections"] += 1
        per_model[row.model]["wrong"] += row.predicted != row.label
    wrong = sum(model["wrong"] for model in per_model.values())
    return {
        "corrections": len(rows),
        "wrong": wrong,
        "wrong_share": round(wrong / len(rows), 4) if rows else None,
        "per_label": {str(d): sum(row.label == d for row in rows) for d in range(10)},
        "per_model": dict(per_model),
    }


if __name__ == "__main__":
    raise SystemExit(main())
