"""The loop closed: corrections of a style MNIST lacks, stored through POST /feedback, trained on
with mnist-train --feedback, raise the accuracy on held-out corrections of that style.

Small and quick: 3,000 MNIST training digits, 5 epochs, no augmentation. The corrections are
monospace typeset digits (data.digit_styles "mono"), which a model trained on MNIST alone
reads worst of the evaluation styles; the rendered digits stand in for what people would send.
"""

import base64
import io
import json

import numpy as np
import pytest

from mnist_mlp.data.digit_styles import rendered_digits
from mnist_mlp.data.feedback_set import load_corrections
from mnist_mlp.data.idx import write_idx
from mnist_mlp.scripts import train
from mnist_mlp.service import create_app

pytestmark = pytest.mark.slow

PLAIN = ["--no-outlier-exposure", "--train-digits", "0", "--no-augment", "--epochs", "5", "--lr", "3e-3"]
STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CORRECTIONS = 200


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
    for sample in rendered_digits(CORRECTIONS, seed=3, styles=("mono",)):
        answer = client.post("/feedback", json={"image": png_base64(sample.image), "label": sample.label})
        assert answer.status_code == 201, answer.json
    _, labels = load_corrections(db)
    assert len(labels) == CORRECTIONS and np.bincount(labels).tolist() == [CORRECTIONS // 10] * 10

    after = tmp_path / "after.npz"
    train.main(
        [*PLAIN, "--data-dir", str(small_mnist), "--out", str(after), "--feedback", db]
        + ["--feedback-baseline", str(before)]
    )
    metrics = json.loads(after.with_suffix(".metrics.json").read_text())
    feedback = metrics["feedback"]
    assert (feedback["corrections"], feedback["held_out"], feedback["trained"]) == (200, 50, 150)
    assert feedback["held_out_accuracy_after"] >= feedback["held_out_accuracy_before"] + 0.15, feedback
    baseline = json.loads(before.with_suffix(".metrics.json").read_text())
    assert metrics["test_accuracy"] >= baseline["test_accuracy"] - 0.01  # MNIST is not given up for it
    print(
        f"held-out mono corrections: {feedback['held_out_accuracy_before']:.2f} -> "
        f"{feedback['held_out_accuracy_after']:.2f}; MNIST test (1,000 digits): "
        f"{baseline['test_accuracy']:.4f} -> {metrics['test_accuracy']:.4f}"
    )
