"""The loop closed: corrections of a style MNIST lacks, stored through POST /feedback, trained on
with mnist-train --feedback, raise the accuracy on held-out corrections of that style; and a
flood of wrong corrections, stored the same way, does not teach the model to misread the page.

Small and quick: 3,000 MNIST training digits, 5 epochs, no augmentation. The corrections are
monospace typeset digits (data.digit_styles "mono"), which a model trained on MNIST alone
reads worst of the evaluation styles; the rendered digits stand in for what people would send.
The flood is the page's own 7 (scripts/samples/page-digit.png) labelled 1, 400 times from 20
addresses, or 400 different 7s drawn as on the page, labelled 1.
"""

import base64
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from mnist_mlp.data.corrections.dataset import load_corrections
from mnist_mlp.data.imaging.preprocess import preprocess
from mnist_mlp.data.mnist.idx import write_idx
from mnist_mlp.data.synth.digit_styles import page_strokes, rendered_digits
from mnist_mlp.data.synth.render import page_export
from mnist_mlp.model import Classifier
from mnist_mlp.scripts import train
from mnist_mlp.service import create_app
from tests.machine import REPO

pytestmark = pytest.mark.slow

PLAIN = ["--no-outlier-exposure", "--train-digits", "0", "--no-augment", "--epochs", "5", "--lr", "3e-3"]
STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CORRECTIONS = 200
FLOOD, ADDRESSES = 400, 20
PAGE_DIGIT = REPO / "scripts" / "samples" / "page-digit.png"  # the page's drawn 7
FEEDBACK = [sys.executable, "-m", "mnist_mlp.scripts.feedback"]
TRAIN = [sys.executable, "-m", "mnist_mlp.scripts.train", *PLAIN]


@pytest.fixture(scope="module")
def small_mnist(tmp_path_factory, mnist):
    folder = tmp_path_factory.mktemp("small-mnist")
    x_train, y_train, x_test, y_test = mnist
    arrays = (
        x_train[:3000].reshape(-1, 28, 28),
        y_train[:3000],
        x_test[:1000].reshape(-1, 28, 28),
        y_test[:1000],
    )
    for stem, array in zip(STEMS, arrays):
        write_idx(folder / stem, array)
    return folder


def png_base64(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_corrections_through_feedback_raise_held_out_accuracy(small_mnist, tmp_path):
    before = tmp_path / "before.npz"
    train.main([*PLAIN, "--data-dir", str(small_mnist), "--out", str(before)])
    db = str(tmp_path / "feedback.sqlite3")
    client = create_app(
        {"MODEL_PATH": str(before), "FEEDBACK_DB": db, "FEEDBACK_BURST": 10_000}
    ).test_client()
    for n, sample in enumerate(rendered_digits(CORRECTIONS, seed=3, styles=("mono",))):
        sent = {"image": png_base64(sample.image), "label": sample.label}
        answer = client.post("/feedback", json=sent, environ_base={"REMOTE_ADDR": f"10.0.0.{n % 20}"})
        assert answer.status_code == 201, answer.json
    approve = [sys.executable, "-m", "mnist_mlp.scripts.feedback", "approve", "--db", db, f"1-{CORRECTIONS}"]
    subprocess.run(approve, check=True, capture_output=True, timeout=60)  # a person looked at them
    labels = load_corrections(db).labels
    assert len(labels) == CORRECTIONS and np.bincount(labels).tolist() == [CORRECTIONS // 10] * 10

    after = tmp_path / "after.npz"
    train.main(
        [*PLAIN, "--data-dir", str(small_mnist), "--out", str(after), "--feedback", db]
        + ["--feedback-baseline", str(before)]
    )
    metrics = json.loads(after.with_suffix(".metrics.json").read_text())
    feedback = metrics["feedback"]
    # typeset digits repeat: the same glyph of the same font counts once
    curation = feedback["curation"]
    assert curation["found"] == CORRECTIONS and curation["kept"] == feedback["corrections"] >= 100
    assert feedback["held_out"] == round(feedback["corrections"] / 4)
    assert feedback["trained"] == feedback["corrections"] - feedback["held_out"]
    assert feedback["held_out_accuracy_after"] >= feedback["held_out_accuracy_before"] + 0.15, feedback
    baseline = json.loads(before.with_suffix(".metrics.json").read_text())
    assert metrics["test_accuracy"] >= baseline["test_accuracy"] - 0.01  # MNIST is not given up for it
    print(
        f"held-out mono corrections: {feedback['held_out_accuracy_before']:.2f} -> "
        f"{feedback['held_out_accuracy_after']:.2f}; MNIST test (1,000 digits): "
        f"{baseline['test_accuracy']:.4f} -> {metrics['test_accuracy']:.4f}"
    )


@pytest.fixture(scope="module")
def before(small_mnist, tmp_path_factory):
    """The weights that served while the corrections came (they read the page's 7 as 7)."""
    path = tmp_path_factory.mktemp("before") / "before.npz"
    train.main([*PLAIN, "--data-dir", str(small_mnist), "--out", str(path)])
    assert read_page_digit(path) == 7
    return path


def read_page_digit(weights):
    return Classifier(weights).answers(preprocess(PAGE_DIGIT.read_bytes())[None, :])[0]["digit"]


def send(before, db, images, labels, first_address=0):
    """POST each (PNG, label) to /feedback, the n-th from address 10.0.0.(n % 20)."""
    client = create_app(
        {"MODEL_PATH": str(before), "FEEDBACK_DB": db, "FEEDBACK_BURST": 10_000}
    ).test_client()
    for n, (image, label) in enumerate(zip(images, labels)):
        sent = {"image": base64.b64encode(image).decode(), "label": label}
        address = f"10.0.0.{(first_address + n) % ADDRESSES}"
        answer = client.post("/feedback", json=sent, environ_base={"REMOTE_ADDR": address})
        assert answer.status_code == 201, answer.json


def approved_mono_corrections(before, db):
    """The useful corrections an operator reviewed and approved: ids 1-200."""
    samples = rendered_digits(CORRECTIONS, seed=3, styles=("mono",))
    send(before, db, [png_bytes(s.image) for s in samples], [s.label for s in samples])
    subprocess.run([*FEEDBACK, "approve", "--db", db, f"1-{CORRECTIONS}"], check=True, capture_output=True)


def png_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def retrain(small_mnist, before, db, out, *options):
    """The retraining command of docs/training.md, at this test's scale."""
    command = [*TRAIN, "--data-dir", str(small_mnist), "--feedback", db, "--feedback-baseline", str(before)]
    return subprocess.run(
        [*command, "--out", str(out), *options], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("options", [[], ["--feedback-unreviewed"]], ids=["approved", "unreviewed-too"])
def test_a_flood_of_the_same_wrong_correction_leaves_the_page_7_a_7(small_mnist, before, tmp_path, options):
    db = str(tmp_path / "feedback.sqlite3")
    approved_mono_corrections(before, db)
    send(before, db, [PAGE_DIGIT.read_bytes()] * FLOOD, [1] * FLOOD)  # nobody approved these

    done = retrain(small_mnist, before, db, tmp_path / "after.npz", *options)
    assert done.returncode == 0, done.stderr
    assert read_page_digit(tmp_path / "after.npz") == 7
    feedback = json.loads((tmp_path / "after.metrics.json").read_text())["feedback"]
    if options:  # the flood was read, and counted once
        assert feedback["curation"]["found"] == CORRECTIONS + FLOOD
        assert feedback["curation"]["near_duplicates"] >= FLOOD - 1
    else:
        assert feedback["curation"]["found"] == CORRECTIONS


def drawn_sevens(count):
    """`count` different 7s drawn with the mouse on the page, as the page exports them (PNG)."""
    styles = ("page_large", "page_half", "page_third")
    drawings = []
    for n in range(count):
        lines, _ = page_strokes(np.random.default_rng([2024, n]), 7, styles[n % 3])
        drawings.append(png_bytes(page_export(lines)))
    return drawings


def test_a_flood_of_different_wrong_corrections_approved_by_mistake_is_refused_by_the_gate(
    small_mnist, before, tmp_path
):
    db = str(tmp_path / "feedback.sqlite3")
    approved_mono_corrections(before, db)
    send(before, db, drawn_sevens(FLOOD), [1] * FLOOD)
    ids = f"{CORRECTIONS + 1}-{CORRECTIONS + FLOOD}"
    subprocess.run([*FEEDBACK, "approve", "--db", db, ids], check=True, capture_output=True)

    refused = retrain(small_mnist, before, db, tmp_path / "after.npz")
    last = refused.stderr.strip().splitlines()[-1]  # after training's own progress lines
    assert refused.returncode != 0 and "Traceback" not in refused.stderr, refused.stderr
    assert last.startswith("error: refused: the new weights read 7s worse than "), last
    assert not list(tmp_path.glob("after*"))  # nothing written

    # what the gate kept from being written: weights that read the page's 7s as 1s
    ungated = retrain(small_mnist, before, db, tmp_path / "after.npz", "--no-feedback-gate")
    assert ungated.returncode == 0, ungated.stderr
    fresh = np.array([preprocess(png) for png in drawn_sevens(FLOOD + 50)[FLOOD:]])  # not in the flood
    read_before = [a["digit"] for a in Classifier(before).answers(fresh)]
    read_after = [a["digit"] for a in Classifier(tmp_path / "after.npz").answers(fresh)]
    assert read_before.count(7) >= 40 and read_after.count(1) >= 25, (read_before, read_after)
    print(
        f"50 other page-drawn 7s: {read_before.count(7)} read as 7 before; without the gate, "
        f"{read_after.count(1)} read as 1 after. The gate refused: {last}"
    )
