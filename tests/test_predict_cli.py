"""mnist-predict: real MNIST test digits saved as PNG files, classified from files, folders, globs
and stdin, answered as the service answers them, in order, with the service's error codes."""

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image

from mnist_mlp.data.preprocess import preprocess
from mnist_mlp.model import DEFAULT_WEIGHTS, Classifier
from mnist_mlp.model.contract import to_pixels
from mnist_mlp.scripts import predict
from mnist_mlp.scripts.image_paths import ImageSource
from mnist_mlp.service import create_app
from tests.service_fixtures import encode, mnist_test_set, render
from tests.tools import run_module

DIGITS = 150  # more than two of mnist-predict's chunks, so --jobs 2 really hands work to two processes
BAD = {
    "garbage.png": b"\x89PNG garbage",
    "blank.png": encode(Image.new("L", (50, 50), 255)),
    "scan.tiff": encode(Image.new("L", (50, 50), 0), "TIFF"),
}


def mnist_predict(*args, stdin=None):
    return run_module("predict", *args, stdin=stdin, text=False)


def lines(run):
    return [json.loads(line) for line in run.stdout.decode().splitlines()]


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """(folder, [(path, PNG bytes, label)]): MNIST test digits drawn black on white, scaled up
    off-centre on larger canvases; every third one in a subfolder."""
    x_test, y_test = mnist_test_set()
    folder = tmp_path_factory.mktemp("digits")
    (folder / "more").mkdir()
    rng = np.random.default_rng(16)
    files = []
    for i in range(DIGITS):
        path = folder / ("more" if i % 3 == 0 else "") / f"digit-{i:03d}.png"
        data = render(x_test[i], "png", rng)
        path.write_bytes(data)
        files.append((path, data, int(y_test[i])))
    (folder / "README.txt").write_text("not an image: a folder's non-image files are skipped")
    return folder, sorted(files, key=lambda f: str(f[0]))


def test_a_folder_is_answered_in_order_as_the_classifier_answers(digits):
    folder, files = digits
    classifier = Classifier(DEFAULT_WEIGHTS)
    run = mnist_predict(folder, "--jobs", "1")
    assert run.returncode == 0, run.stderr
    records = lines(run)
    assert [r["path"] for r in records] == [str(path) for path, _, _ in files]
    for record, (_, data, _) in zip(records, files):
        # One image alone and the same image in a batch differ in the last float32 bits.
        answer = classifier.answers(preprocess(data)[None, :])[0]
        assert (record["digit"], record["uncertain"]) == (answer["digit"], answer["uncertain"])
        assert record["confidence"] == pytest.approx(answer["confidence"], abs=1e-5)
    accuracy = np.mean([r["digit"] == label for r, (_, _, label) in zip(records, files)])
    assert accuracy >= 0.95
    assert f"{DIGITS} images: {DIGITS} answered" in run.stderr.decode()


def test_two_jobs_give_the_same_lines_as_one(digits):
    folder, _ = digits
    one, two = mnist_predict(folder, "--jobs", "1"), mnist_predict(folder, "--jobs", "2")
    assert one.returncode == two.returncode == 0, two.stderr
    pairs = list(zip(lines(one), lines(two), strict=True))
    for first, second in pairs:
        # The workers' single-threaded BLAS may round the last float32 bit differently.
        assert first["confidence"] == pytest.approx(second["confidence"], abs=1e-5)
        assert {**first, "confidence": 0} == {**second, "confidence": 0}
    assert "with 2 job(s)" in two.stderr.decode()


def test_files_globs_and_stdin_keep_the_order_given(digits):
    folder, files = digits
    first, second = files[0], files[5]
    run = mnist_predict(second[0], f"{folder}/more/*.png", "-", first[0], stdin=first[1])
    assert run.returncode == 0, run.stderr
    in_more = [str(path) for path, _, _ in files if path.parent.name == "more"]
    paths = [r["path"] for r in lines(run)]
    assert paths == [str(second[0]), *in_more, "<stdin>", str(first[0])]
    records = lines(run)
    assert records[len(in_more) + 1]["digit"] == records[-1]["digit"] == first[2]


def test_unreadable_images_get_the_http_api_error_codes(tmp_path, digits):
    _, files = digits
    for name, data in BAD.items():
        (tmp_path / name).write_bytes(data)
    run = mnist_predict(tmp_path / "garbage.png", files[0][0], tmp_path / "blank.png", tmp_path / "scan.tiff")
    assert run.returncode == 1
    records = lines(run)
    assert records[1]["digit"] == files[0][2] and "error" not in records[1]
    client = create_app({"TESTING": True}).test_client()
    for record, name in zip([records[0], *records[2:]], BAD):
        api = client.post("/predict", data=BAD[name], content_type="application/octet-stream").json
        assert record == {"path": str(tmp_path / name), "error": api["error"]}
    assert "4 images: 1 answered (0 uncertain), 3 failed" in run.stderr.decode()


def test_a_file_gone_before_it_is_read_is_a_line_not_a_crash(tmp_path, digits):
    _, files = digits
    predict._load(DEFAULT_WEIGHTS, None)
    gone = ImageSource(str(tmp_path / "deleted-after-listing.png"))
    first, second = predict.classify_chunk([(0, gone), (1, ImageSource(str(files[0][0])))])
    assert first["path"] == gone.name and first["error"]["code"] == "unreadable_file"
    assert "No such file" in first["error"]["message"]
    assert second["digit"] == files[0][2]


def test_csv_output(digits, tmp_path):
    _, files = digits
    (tmp_path / "blank.png").write_bytes(BAD["blank.png"])
    run = mnist_predict("--format", "csv", files[0][0], tmp_path / "blank.png")
    assert run.returncode == 1
    rows = list(csv.DictReader(io.StringIO(run.stdout.decode())))
    assert [row["path"] for row in rows] == [str(files[0][0]), str(tmp_path / "blank.png")]
    assert rows[0]["digit"] == str(files[0][2]) and rows[0]["error_code"] == ""
    assert rows[1]["digit"] == "" and rows[1]["error_code"] == "no_digit_found"


def test_preview_dir_holds_each_network_input(digits, tmp_path):
    _, files = digits
    previews = tmp_path / "previews"
    run = mnist_predict("--preview-dir", previews, files[1][0], "-", stdin=files[2][1])
    assert run.returncode == 0, run.stderr
    written = sorted(previews.iterdir())
    assert [p.name for p in written] == [f"000000-{files[1][0].stem}.png", "000001-stdin.png"]
    for path, (_, data, _) in zip(written, [files[1], files[2]]):
        shown = np.asarray(Image.open(path))
        assert shown.shape == (28, 28) and np.array_equal(shown.reshape(-1), to_pixels(preprocess(data)))


@pytest.mark.parametrize(
    "args",
    [
        ["/no/such/file.png"],
        ["/no/such/*.png"],
        ["--jobs", "0", "x.png"],
        ["--format", "xml", "x.png"],
        [],
    ],
    ids=["missing file", "glob without match", "jobs 0", "unknown format", "no path"],
)
def test_usage_errors_exit_2_with_one_line(args):
    run = mnist_predict(*args)
    assert run.returncode == 2
    assert run.stdout == b""
    assert run.stderr.decode().strip().splitlines()[-1].startswith(("error:", "mnist-predict: error:"))


def test_bad_weights_and_empty_folders_are_usage_errors(tmp_path, digits):
    _, files = digits
    (tmp_path / "w.npz").write_bytes(b"not a zip")
    run = mnist_predict("--weights", tmp_path / "w.npz", files[0][0])
    assert run.returncode == 2 and run.stderr.decode().startswith("error:") and run.stdout == b""
    empty = tmp_path / "empty"
    empty.mkdir()
    run = mnist_predict(empty)
    assert run.returncode == 2 and "no image files" in run.stderr.decode()


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_counted_on_a_terminal_only():
    terminal, pipe = Terminal(), io.StringIO()
    assert list(predict.progress(range(250), 250, terminal)) == list(range(250))
    assert terminal.getvalue() == "\r100/250 images\r200/250 images\r250/250 images\n"
    assert list(predict.progress(range(250), 250, pipe)) == list(range(250))
    assert pipe.getvalue() == ""
