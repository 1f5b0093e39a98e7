"""mnist-feedback export and stats, on both back ends, and mnist-train's reader of the export."""

import json
import subprocess
import sys

import numpy as np
import pytest

from mnist_mlp.data.feedback_set import IMAGES_FILE, LABELS_FILE, NoCorrections, load_corrections
from mnist_mlp.data.feedback_store import Correction, open_store
from mnist_mlp.data.idx import read_images, read_labels

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
    done = run("export", "--db", feedback_db, "--out", str(tmp_path / "out"))
    assert done.returncode == 0 and done.stdout.strip() == f"wrote 4 corrections to {tmp_path / 'out'}"
    images = read_images(tmp_path / "out" / IMAGES_FILE)
    assert images.shape == (4, 784) and images[:, 0].tolist() == [0, 1, 2, 3]
    assert read_labels(tmp_path / "out" / LABELS_FILE).tolist() == [3, 3, 7, 0]
    from_folder, from_db = load_corrections(tmp_path / "out"), load_corrections(feedback_db)
    np.testing.assert_array_equal(from_folder[0], from_db[0])
    np.testing.assert_array_equal(from_folder[1], from_db[1])


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
            "nothing-here",
            "nothing-here: neither a feedback database nor a folder with feedback-images-idx3-ubyte",
        ),
        ("few.sqlite3", "few.sqlite3: 1 corrections are too few to hold some out and train on the rest"),
    ],
)
def test_train_refuses_unusable_feedback_in_one_line(tmp_path, given, message):
    fill(str(tmp_path / "few.sqlite3"), LABELLED[:1])
    done = subprocess.run(
        [sys.executable, "-m", "mnist_mlp.scripts.train", "--feedback", given],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode != 0 and done.stderr == f"error: {message}\n"
