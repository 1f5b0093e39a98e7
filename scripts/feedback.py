"""Read and review the corrections users sent through POST /feedback.

    mnist-feedback review  --db feedback.sqlite3 [--sheet review.png]   # what is pending, and a contact sheet
    mnist-feedback approve --db feedback.sqlite3 3 7 12-40              # used by mnist-train --feedback
    mnist-feedback reject  --db feedback.sqlite3 41-440                 # never used
    mnist-feedback prune   --db feedback.sqlite3                        # delete the rejected ones
    mnist-feedback export  --db feedback.sqlite3 --out corrections/ [--unreviewed]
    mnist-feedback stats   --db postgresql://user@host/db

Every correction arrives pending; only approved ones are trained on (mnist-train --feedback)
and exported, unless --unreviewed adds the pending ones. `review` groups near-identical
images, so that one image sent many times (a flood) shows as one line and one cell of the
sheet. `export` writes feedback-images-idx3-ubyte and feedback-labels-idx1-ubyte, readable by
mnist_mlp.data.idx. `stats` prints, as JSON, how many corrections there are per label, model
and review status, and how often the model had been wrong. Reading never creates or changes
anything, and reads a read-only database; only approve, reject and prune write.
"""

import collections
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..data.feedback_set import is_database, near_duplicate_groups, write_corrections
from ..data.feedback_store import STATUSES, BadRow, StoreUnavailable, UnknownCorrections, open_store
from ..model.contract import SIDE
from .cli import fail, parser

PROG = "mnist-feedback"
MAX_IDS = 1_000_000  # ids one command may name, ranges included
SHEET_COLUMNS = 12
SHEET_CELL = 2 * SIDE  # each 28x28 input shown twice its size
SHEET_MAX_CELLS = 600


def parse_args(argv=None):
    cli = parser(PROG, __doc__)
    commands = cli.add_subparsers(dest="command", required=True)
    for name, what in (
        ("review", "list the pending corrections and draw them on a contact sheet"),
        ("approve", "let these corrections be trained on"),
        ("reject", "keep these corrections out of training"),
        ("prune", "delete the rejected corrections, making room under the store's caps"),
        ("export", "write the approved corrections as IDX files"),
        ("stats", "count the corrections"),
    ):
        command = commands.add_parser(name, help=what, description=what)
        command.add_argument(
            "--db", required=True, help="the FEEDBACK_DB: a SQLite file or a postgresql:// URL"
        )
        if name in ("approve", "reject"):
            command.add_argument(
                "ids", nargs="+", type=id_list, metavar="ID", help="ids, or ranges like 12-40"
            )
        if name == "review":
            command.add_argument(
                "--sheet", type=Path, default=Path("feedback-review.png"), help="PNG to write"
            )
        if name == "export":
            command.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write")
            command.add_argument("--unreviewed", action="store_true", help="the pending corrections too")
    args = cli.parse_args(argv)
    if args.command in ("approve", "reject"):
        args.ids = sorted({i for ids in args.ids for i in ids})
        if len(args.ids) > MAX_IDS:
            cli.error(f"at most {MAX_IDS} ids at once")
    return args


def id_list(text):
    """'7', '12-40' or '3,7,12-40' as a range or list of ids."""
    ids = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        if not (low.isascii() and low.isdigit() and (not high or (high.isascii() and high.isdigit()))):
            raise ValueError(text)
        low, high = int(low), int(high or low)
        if high < low or high - low >= MAX_IDS:
            raise ValueError(text)
        ids.append(range(low, high + 1))
    return [i for part in ids for i in part]


id_list.__name__ = "id or range"  # argparse's message: "invalid id or range value: 'x'"


def main(argv=None):
    args = parse_args(argv)
    if not is_database(args.db):
        fail(f"{args.db}: no such feedback database")
    try:
        run(args)
    except (StoreUnavailable, BadRow, UnknownCorrections) as exc:
        fail(exc)
    return 0


def run(args):
    if args.command in ("approve", "reject"):
        status = {"approve": "approved", "reject": "rejected"}[args.command]
        changed = open_store(args.db, access="write").review(args.ids, status)
        print(f"{status} {changed} corrections: {ranges(args.ids)}")
    elif args.command == "prune":
        rows, size = open_store(args.db, access="write").prune()
        print(f"deleted {rows} rejected corrections ({size} bytes)")
    elif args.command == "stats":
        print(json.dumps(stats(open_store(args.db, access="read").corrections()), indent=2))
    elif args.command == "review":
        review(open_store(args.db, access="read").corrections(), args.sheet)
    else:
        export(args)


def export(args):
    statuses = ("approved", "pending") if args.unreviewed else ("approved",)
    rows = open_store(args.db, access="read").corrections(statuses)
    try:
        write_corrections(args.out, [row.pixels for row in rows], [row.label for row in rows])
    except OSError as exc:
        fail(f"cannot write {args.out}: {exc.strerror or exc}")
    print(f"wrote {len(rows)} {' or '.join(statuses)} corrections to {args.out}")


def stats(rows):
    """Counts per label, model and status, and how many the model had answered wrongly."""
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
        "per_status": {s: sum(row.status == s for row in rows) for s in STATUSES},
        "clients": len({row.client for row in rows if row.client is not None}),
    }


def review(rows, sheet_path):
    """Print the pending corrections, near-identical ones as one line, and draw them on a sheet."""
    pending = [row for row in rows if row.status == "pending"]
    counts = collections.Counter(row.status for row in rows)
    if not pending:
        print(f"no pending corrections ({counts['approved']} approved, {counts['rejected']} rejected)")
        return
    images = np.array([row.pixels.reshape(-1) for row in pending], dtype=np.uint8)
    groups = sorted(near_duplicate_groups(images), key=lambda g: (-len(g), pending[g[0]].id))
    groups = [[pending[i] for i in group] for group in groups]
    try:
        contact_sheet(groups[:SHEET_MAX_CELLS]).save(sheet_path)
    except OSError as exc:
        fail(f"cannot write {sheet_path}: {exc.strerror or exc}")
    print(
        f"{len(pending)} pending corrections ({counts['approved']} approved, {counts['rejected']} rejected); "
        f"contact sheet: {sheet_path}"
    )
    for group in groups:
        print(describe(group))
    print(f"then: {PROG} approve --db DB ID...  or  {PROG} reject --db DB ID...  (ranges like 12-40)")


def describe(group):
    """One line for a correction, or for a group of near-identical ones."""
    first = group[0]
    labels = ", ".join(str(label) for label in sorted({row.label for row in group}))
    said = ", ".join(str(digit) for digit in sorted({row.predicted for row in group}))
    if len(group) == 1:
        return (
            f"  {first.id:>7}  labelled {labels}, the model said {said} ({first.confidence:.2f}); "
            f"{first.source}, client {first.client or '-'}, {first.created_at}"
        )
    clients = len({row.client for row in group if row.client})
    sources = f"from {clients} client{'s' if clients > 1 else ''}" if clients else "clients not recorded"
    return (
        f"  {len(group)} near-identical images, ids {ranges([row.id for row in group])}: labelled {labels}, "
        f"the model said {said}; {sources}, {first.created_at} to {group[-1].created_at}"
    )


def ranges(ids):
    """'3 7 12-40': sorted ids, runs as ranges; what approve and reject take."""
    ids = sorted(ids)
    runs = [[ids[0], ids[0]]]
    for i in ids[1:]:
        if i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return " ".join(str(low) if low == high else f"{low}-{high}" for low, high in runs)


def contact_sheet(groups):
    """One cell per group: its first image, twice its size, under "id ×count" and "label (model)"."""
    font = ImageFont.load_default(size=10)
    width, height = SHEET_CELL + 8, SHEET_CELL + 26
    rows = -(-len(groups) // SHEET_COLUMNS)
    sheet = Image.new("RGB", (SHEET_COLUMNS * width, rows * height), "white")
    draw = ImageDraw.Draw(sheet)
    for n, group in enumerate(groups):
        left, top = (n % SHEET_COLUMNS) * width + 4, (n // SHEET_COLUMNS) * height + 2
        first = group[0]
        image = Image.fromarray(first.pixels).resize((SHEET_CELL, SHEET_CELL), Image.Resampling.NEAREST)
        sheet.paste(image.convert("RGB"), (left, top))
        count = f" x{len(group)}" if len(group) > 1 else ""
        draw.text((left, top + SHEET_CELL), f"#{first.id}{count}", fill="black", font=font)
        colour = "darkred" if len(group) > 1 else "black"
        draw.text((left, top + SHEET_CELL + 11), f"{first.label} ({first.predicted})", fill=colour, font=font)
    return sheet


if __name__ == "__main__":
    raise SystemExit(main())
