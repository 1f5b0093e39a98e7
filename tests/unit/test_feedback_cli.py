"""mnist-feedback export and stats, on both back ends, and mnist-train's reader of the export; odd,
empty and read-only databases, which are read, never written, and fail in one line."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from mnist_mlp.data.corrections import open_store
from mnist_mlp.data.corrections.dataset import IMAGES_FILE, LABELS_FILE, NoCorrections, load_corrections
from mnist_mlp.data.corrections.store import Correction
from mnist_mlp.data.mnist.idx import read_images, read_labels, write_idx
from tests.feedback_db import insert, make_version_1, query
from tests.machine import skip_or_fail

FEEDBACK = [sys.executable, "-m", "mnist_mlp.scripts.feedback"]


def fill(target, labelled):
    """Store one correction per (label, predicted, model); the pixels of the i-th are all i."""
    store = open_store(target)
    for i, (label, predicted, model) in enumerate(labelled):
        pixels = np.full((28, 28), i, dtype=np.uint8)
        store.add(Correction(pixels, b"png", label, predicted, 0.5, model, "api"))
    store.close()


def run(*args):
    return subprocess.run([*FEEDBACK, *args], capture_output=True, text=True, timeout=60)


LABELLED = [(3, 5, "a"), (3, 3, "a"), (7, 1, "b"), (0, 6, "a")]


def test_export_writes_idx_files_the_project_reads(feedback_db, tmp_path):
    fill(feedback_db, LABELLED)
    assert run("approve", "--db", feedback_db, "1-4").returncode == 0  # only approved ones are exported
    done = run("export", "--db", feedback_db, "--out", str(tmp_path / "out"))
    assert (
        done.returncode == 0 and done.stdout.strip() == f"wrote 4 approved corrections to {tmp_path / 'out'}"
    )
    images = read_images(tmp_path / "out" / IMAGES_FILE)
    assert images.shape == (4, 784) and images[:, 0].tolist() == [0, 1, 2, 3]
    assert read_labels(tmp_path / "out" / LABELS_FILE).tolist() == [3, 3, 7, 0]
    from_folder, from_db = load_corrections(tmp_path / "out"), load_corrections(feedback_db)
    np.testing.assert_array_equal(from_folder.images, from_db.images)
    np.testing.assert_array_equal(from_folder.labels, from_db.labels)


def test_stats_count_per_label_and_model(feedback_db):
    fill(feedback_db, LABELLED)
    done = run("stats", "--db", feedback_db)
    assert done.returncode == 0, done.stderr
    counted = json.loads(done.stdout)
    assert (counted["corrections"], counted["wrong"], counted["wrong_share"]) == (4, 3, 0.75)
    assert counted["per_label"] == {
        "0": 1,
        "1": 0,
        "2": 0,
        "3": 2,
        "4": 0,
        "5": 0,
        "6": 0,
        "7": 1,
        "8": 0,
        "9": 0,
    }
    assert counted["per_model"] == {"a": {"corrections": 3, "wrong": 2}, "b": {"corrections": 1, "wrong": 1}}


@pytest.mark.parametrize("command", [["stats"], ["export", "--out", "x"]])
def test_a_missing_database_is_one_line_and_no_file_is_made(tmp_path, command):
    db = tmp_path / "none.sqlite3"
    done = run(command[0], "--db", str(db), *command[1:])
    assert done.returncode != 0 and done.stderr == f"error: {db}: no such feedback database\n"
    assert not db.exists()


def test_a_file_that_is_no_database_is_one_line(tmp_path):
    (tmp_path / "junk").write_bytes(b"not sqlite" * 100)
    done = run("stats", "--db", str(tmp_path / "junk"))
    assert done.returncode != 0 and done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1


def test_a_folder_without_an_export_is_refused(tmp_path):
    with pytest.raises(NoCorrections, match=IMAGES_FILE):
        load_corrections(tmp_path)


@pytest.mark.parametrize(
    "given, message",
    [
        (
            "pending.sqlite3",
            "pending.sqlite3: no approved corrections (4 pending): review them with `mnist-feedback review`, "
            "or add --feedback-unreviewed",
        ),
        (
            "nothing-here",
            "nothing-here: neither a feedback database nor a folder with feedback-images-idx3-ubyte",
        ),
        ("few.sqlite3", "few.sqlite3: 1 corrections are too few to hold some out and train on the rest"),
        ("small", "small: images of 25 pixels, not 28x28"),
    ],
)
def test_train_refuses_unusable_feedback_in_one_line(tmp_path, given, message):
    (tmp_path / "small").mkdir()
    write_idx(tmp_path / "small" / IMAGES_FILE, np.zeros((40, 5, 5)))  # not 28x28
    write_idx(tmp_path / "small" / LABELS_FILE, np.arange(40) % 10)
    fill(str(tmp_path / "few.sqlite3"), LABELLED[:1])
    assert run("approve", "--db", str(tmp_path / "few.sqlite3"), "1").returncode == 0
    fill(str(tmp_path / "pending.sqlite3"), LABELLED)  # nobody reviewed these
    done = subprocess.run(
        [sys.executable, "-m", "mnist_mlp.scripts.train", "--feedback", given],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode != 0 and done.stderr == f"error: {message}\n"


# Rows another program could have written: each read gives one line naming the row, never a
# traceback and never a guess (a REAL label 5.5 is not read as 5).
ODD_ROWS = {
    "a REAL label": (dict(label=5.5), "row 2: label is 5.5, not a digit 0-9"),
    "too few pixels": (dict(pixels=bytes(783)), "row 2: pixels is 783 bytes, not 784 bytes"),
    "a digit out of range": (dict(predicted=12), "row 2: predicted is 12, not a digit 0-9"),
    "pixels as text": (dict(pixels="x" * 784), f"row 2: pixels is '{'x' * 36}..., not 784 bytes"),
    # text the review tools would print raw: terminal control sequences erasing the lines above
    "escapes in a time": (
        dict(created_at="2026-01-01\x1b[1A\x1b[2K"),
        "row 2: created_at is '2026-01-01\\x1b[1A\\x1b[2K', not an ISO 8601 time",
    ),
    "a source of its own": (
        dict(source="api\x1b]0;x\x07"),
        "row 2: source is 'api\\x1b]0;x\\x07', not page or api",
    ),
    "a model with a newline": (
        dict(model="m\nm"),
        "row 2: model is 'm\\nm', not 1 to 100 printable ASCII characters",
    ),
}
READERS = {
    "stats": lambda db, out: [*FEEDBACK, "stats", "--db", db],
    "export": lambda db, out: [*FEEDBACK, "export", "--db", db, "--out", out, "--unreviewed"],
    "review": lambda db, out: [*FEEDBACK, "review", "--db", db, "--sheet", f"{out}.png"],
    "train": lambda db, out: [
        *[sys.executable, "-m", "mnist_mlp.scripts.train"],
        *["--feedback", db, "--feedback-unreviewed", "--out", f"{out}.npz"],
    ],
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("odd", ODD_ROWS)
def test_an_odd_row_is_one_line_naming_it(tmp_path, odd, reader):
    """SQLite: a REAL in an INTEGER column, text in a BLOB one, as its loose typing allows."""
    db = str(tmp_path / "odd.sqlite3")
    make_version_1(db, [(3, bytes(784), None)])
    changes, message = ODD_ROWS[odd]
    insert(db, **{"label": 4, "pixels": bytes(784), **changes})
    done = subprocess.run(
        READERS[reader](db, str(tmp_path / "out")), capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode != 0 and done.stderr == f"error: {db}: {message}\n", done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.sqlite3"]  # nothing written


def test_odd_rows_in_postgresql_are_one_line_too(empty_postgres, tmp_path):
    make_version_1(empty_postgres, [(3, bytes(784), None)])
    insert(empty_postgres, 4, bytes(10), predicted=-1)
    done = run("stats", "--db", empty_postgres)
    assert done.returncode != 0 and done.stderr.endswith(": row 2: predicted is -1, not a digit 0-9\n")


@pytest.mark.parametrize("command", [["stats"], ["export", "--out", "x"], ["review"], ["approve", "1"]])
def test_an_empty_file_is_no_database_and_stays_empty(tmp_path, command):
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")
    done = subprocess.run(
        [*FEEDBACK, command[0], "--db", str(empty), *command[1:]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert (
        done.returncode != 0 and done.stderr.startswith(f"error: {empty}: ") and done.stderr.count("\n") == 1
    )
    assert "not a feedback database" in done.stderr or command[0] == "approve"
    assert empty.stat().st_size == 0 and [p.name for p in tmp_path.iterdir()] == ["empty.sqlite3"]


def test_train_on_an_empty_file_is_one_line_and_makes_nothing(tmp_path):
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")
    done = subprocess.run(
        [sys.executable, "-m", "mnist_mlp.scripts.train", "--feedback", str(empty)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode != 0 and done.stderr.startswith(f"error: {empty}: not a feedback database")
    assert empty.stat().st_size == 0 and [p.name for p in tmp_path.iterdir()] == ["empty.sqlite3"]


# Root ignores file modes: as root, the readers run without the capabilities that let it.
UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []


def read_only(folder):
    """Make `folder` and its files read-only: its database cannot be written nor its -shm made."""
    if UNPRIVILEGED and not shutil.which("setpriv"):
        skip_or_fail("setpriv (util-linux) is needed to read as root without write access")
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)


@pytest.fixture
def readonly_db(tmp_path):
    """A database written and closed (no -wal file left), in a folder made read-only afterwards."""
    folder = tmp_path / "ro"
    fill(str(folder / "feedback.sqlite3"), LABELLED)
    assert sorted(p.name for p in folder.iterdir()) == ["feedback.sqlite3"]
    read_only(folder)
    yield folder / "feedback.sqlite3"
    folder.chmod(0o755)


def test_a_read_only_database_in_a_read_only_folder_is_read(readonly_db, tmp_path):
    stats = subprocess.run(
        [*UNPRIVILEGED, *FEEDBACK, "stats", "--db", str(readonly_db)], capture_output=True, text=True
    )
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["per_status"] == {"pending": 4, "approved": 0, "rejected": 0}
    out = tmp_path / "out"
    export = subprocess.run(
        [*UNPRIVILEGED, *FEEDBACK, "export", "--db", str(readonly_db), "--out", str(out), "--unreviewed"],
        capture_output=True,
        text=True,
    )
    assert export.returncode == 0 and read_labels(out / LABELS_FILE).tolist() == [3, 3, 7, 0], export.stderr
    assert sorted(p.name for p in readonly_db.parent.iterdir()) == ["feedback.sqlite3"]
    approve = subprocess.run(
        [*UNPRIVILEGED, *FEEDBACK, "approve", "--db", str(readonly_db), "1"], capture_output=True, text=True
    )
    assert approve.returncode != 0 and approve.stderr.count("\n") == 1 and "readonly" in approve.stderr


def test_a_read_only_wal_database_with_its_shm_is_read_with_its_latest_writes(tmp_path):
    """Copied while the server wrote: the -wal holds rows the database file does not have yet."""
    folder = tmp_path / "ro"
    live = folder / "feedback.sqlite3"
    store = open_store(live)
    store.prepare()  # its open connection keeps the rows below in the -wal
    fill(str(live), LABELLED)
    assert {p.name for p in folder.iterdir()} == {
        "feedback.sqlite3",
        "feedback.sqlite3-wal",
        "feedback.sqlite3-shm",
    }
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    store.close()
    read_only(copy)
    try:
        done = subprocess.run(
            [*UNPRIVILEGED, *FEEDBACK, "stats", "--db", str(copy / "feedback.sqlite3")],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0 and json.loads(done.stdout)["corrections"] == 4, done.stderr
        assert (copy / "feedback.sqlite3-wal").stat().st_size > 0  # the rows were read from there
        (copy / "feedback.sqlite3-shm").chmod(0o644)
        copy.chmod(0o755)
        (copy / "feedback.sqlite3-shm").unlink()  # without it, a read-only reader cannot use the -wal
        read_only(copy)
        done = subprocess.run(
            [*UNPRIVILEGED, *FEEDBACK, "stats", "--db", str(copy / "feedback.sqlite3")],
            capture_output=True,
            text=True,
        )
        assert done.returncode != 0 and done.stderr.count("\n") == 1 and "-wal" in done.stderr, done.stderr
    finally:
        copy.chmod(0o755)


def test_a_forged_client_key_is_one_line_not_printed(tmp_path):
    db = str(tmp_path / "forged.sqlite3")
    fill(db, LABELLED[:1])
    query(db, "UPDATE corrections SET client = 'c' || char(27) || '[2J'")
    done = run("review", "--db", db, "--sheet", str(tmp_path / "sheet.png"))
    assert done.returncode != 0 and "\x1b" not in done.stdout + done.stderr, done
    assert done.stderr == f"error: {db}: row 1: client is 'c\\x1b[2J', not 16 lowercase hex digits\n"
