"""mnist-feedback review, approve, reject and prune, on both back ends: a person decides which
corrections are trained on; a flood shows as one line and one cell of the contact sheet."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mnist_mlp.data.corrections import open_store
from mnist_mlp.data.corrections.store import Correction
from mnist_mlp.scripts.feedback import SHEET_CELL, SHEET_COLUMNS
from tests.feedback_db import query

FEEDBACK = [sys.executable, "-m", "mnist_mlp.scripts.feedback"]


def run(*args, cwd=None):
    return subprocess.run([*FEEDBACK, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def store_some(db):
    """Ids 1-3: three different drawings; ids 4-8: one image labelled 1 by five clients."""
    store = open_store(db)
    rng = np.random.default_rng(0)
    for label in (3, 4, 5):
        pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
        store.add(Correction(pixels, b"png", label, 8, 0.4, "m", "page", client=f"{label:016x}"))
    flood = np.zeros((28, 28), np.uint8)
    flood[4:24, 12:16] = 255
    for n in range(5):
        store.add(Correction(flood, b"png", 1, 7, 0.99, "m", "api", client=f"{100 + n:016x}"))
    store.close()


def test_review_lists_the_pending_ones_a_flood_as_one_line_and_draws_them(feedback_db, tmp_path):
    store_some(feedback_db)
    done = run("review", "--db", feedback_db, "--sheet", str(tmp_path / "sheet.png"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert (
        lines[0] == f"8 pending corrections (0 approved, 0 rejected); contact sheet: {tmp_path / 'sheet.png'}"
    )
    assert lines[1].startswith(
        "  5 near-identical images, ids 4-8: labelled 1, the model said 7; from 5 clients"
    )
    assert [line.split()[0] for line in lines[2:5]] == ["1", "2", "3"]
    assert "labelled 3, the model said 8 (0.40); page, client 0000000000000003" in lines[2]
    sheet = Image.open(tmp_path / "sheet.png")
    assert (
        sheet.width == SHEET_COLUMNS * (SHEET_CELL + 8) and sheet.height == SHEET_CELL + 26
    )  # four cells, one row
    flood_cell = np.asarray(sheet.convert("L"))[2 : 2 + SHEET_CELL, 4 : 4 + SHEET_CELL]
    assert (flood_cell[8:48, 24:32] == 255).all() and (flood_cell[:, :20] == 0).all()  # the flood's image, 2x


def test_approved_ones_are_exported_rejected_ones_pruned(feedback_db, tmp_path):
    store_some(feedback_db)
    assert run("approve", "--db", feedback_db, "1-2", "3").stdout == "approved 3 corrections: 1-3\n"
    assert run("reject", "--db", feedback_db, "4-8").stdout == "rejected 5 corrections: 4-8\n"
    statuses = json.loads(run("stats", "--db", feedback_db).stdout)["per_status"]
    assert statuses == {"pending": 0, "approved": 3, "rejected": 5}
    assert run("export", "--db", feedback_db, "--out", str(tmp_path / "out")).stdout.startswith(
        "wrote 3 approved"
    )
    assert (
        run("prune", "--db", feedback_db).stdout
        == f"deleted 5 rejected corrections ({5 * (784 + 3)} bytes)\n"
    )
    assert query(feedback_db, "SELECT id FROM corrections ORDER BY id") == [(1,), (2,), (3,)]
    assert query(feedback_db, "SELECT row_count, byte_count FROM store_usage") == [(3, 3 * (784 + 3))]
    assert run("review", "--db", feedback_db).stdout == "no pending corrections (3 approved, 0 rejected)\n"


def test_an_unknown_id_changes_nothing(feedback_db):
    store_some(feedback_db)
    done = run("approve", "--db", feedback_db, "1", "99-100")
    assert done.returncode != 0 and done.stderr.endswith(": no correction with id 99, 100; nothing changed\n")
    assert query(feedback_db, "SELECT status FROM corrections WHERE id = 1") == [("pending",)]


@pytest.mark.parametrize("ids", ["x", "5-3", "-4", "1-99999999", "²"])
def test_ids_that_are_not_ids_are_a_usage_error(tmp_path, ids):
    store_some(str(tmp_path / "db.sqlite3"))
    done = run("reject", "--db", str(tmp_path / "db.sqlite3"), ids)
    assert done.returncode == 2 and f"invalid id or range value: '{ids}'" in done.stderr


@pytest.mark.parametrize("command", [["approve", "1"], ["reject", "1"], ["prune"], ["review"]])
def test_the_review_tools_never_make_a_database(tmp_path, command):
    db = tmp_path / "none.sqlite3"
    done = run(command[0], "--db", str(db), *command[1:], cwd=tmp_path)
    assert done.returncode != 0 and done.stderr == f"error: {db}: no such feedback database\n"
    assert list(tmp_path.iterdir()) == []
