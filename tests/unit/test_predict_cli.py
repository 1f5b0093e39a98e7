"""mnist-predict: real MNIST test digits saved as PNG files, classified from files, folders, globs
and stdin, answered as the service answers them, in order, with the service's error codes."""

import csv
import io
import json
import os
import resource
import subprocess

import numpy as np
import pytest
from PIL import Image

from mnist_mlp.data.imaging.preprocess import preprocess
from mnist_mlp.model import DEFAULT_WEIGHTS, Classifier
from mnist_mlp.model.contract import to_pixels
from mnist_mlp.scripts import predict
from mnist_mlp.scripts.image_paths import ImageSource
from mnist_mlp.service import create_app
from tests.images import encode, mnist_test_set, render
from tests.tools import run_module, run_tool

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
    assert "with 2 jobs" in two.stderr.decode()


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
    ("args", "message"),
    [
        (["/no/such/*.png"], "error: /no/such/*.png: no such file, folder or match"),
        (["--jobs", "0", "x.png"], "argument --jobs: must be an integer at least 1, got 0"),
        (["--jobs", "two", "x.png"], "argument --jobs: must be an integer at least 1, got two"),
        (["--format", "xml", "x.png"], "argument --format: invalid choice: 'xml'"),
        (["--max-bytes", "0", "x.png"], "argument --max-bytes: must be an integer at least 1, got 0"),
        (["--max-files", "-5", "x.png"], "argument --max-files: must be an integer at least 1, got -5"),
        (["--preview-dir", "{file}/previews", "x.png"], "argument --preview-dir: cannot write into"),
        (["--no-such-option", "x.png"], "unrecognized arguments: --no-such-option"),
        ([], "the following arguments are required: PATH"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_usage_errors_exit_2_with_one_line(args, message, tmp_path):
    (tmp_path / "file").write_text("a file, so nothing can be made under it")
    run, seconds = run_tool("mnist-predict", *[a.format(file=tmp_path / "file") for a in args], timeout=60)
    assert (run.returncode, run.stdout) == (2, "")
    assert len(run.stderr.splitlines()) == 1 and message in run.stderr, run.stderr
    assert seconds < 5


def test_bad_weights_and_empty_folders_are_usage_errors(tmp_path, digits):
    _, files = digits
    (tmp_path / "w.npz").write_bytes(b"not a zip")
    run = mnist_predict("--weights", tmp_path / "w.npz", files[0][0])
    assert run.returncode == 2 and run.stderr.decode().startswith("error:") and run.stdout == b""
    empty, other = tmp_path / "empty", tmp_path / "other"
    empty.mkdir()
    other.mkdir()
    run = mnist_predict(empty, other)
    assert run.returncode == 2
    assert run.stderr.decode() == f"error: no image files found in {empty}, {other}\n"


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_counted_on_a_terminal_only():
    terminal, pipe = Terminal(), io.StringIO()
    assert list(predict.progress(range(250), 250, terminal)) == list(range(250))
    assert terminal.getvalue() == "\r100/250 images\r200/250 images\r250/250 images\n"
    assert list(predict.progress(range(250), 250, pipe)) == list(range(250))
    assert pipe.getvalue() == ""


# The hostile inputs below run mnist-predict with at most this much address space: enough for
# Python, NumPy and Pillow (about 400 MB with one BLAS thread), far from what reading a 1 GB file
# or /dev/zero would take. A regression then fails fast instead of swapping the machine.
ADDRESS_SPACE = 768 * 2**20
ONE_THREAD = {**os.environ, **dict.fromkeys(predict.BLAS_THREADS, "1")}


def bounded_memory():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def hostile(*args, cwd=None, timeout=30, **stdin):
    """(records, stderr, exit status, seconds) of mnist-predict --jobs 1 ARGS in a bounded process,
    given input=BYTES or stdin=FILE; a run still going after `timeout` s fails the test."""
    try:
        run, seconds = run_tool(
            "mnist-predict",
            "--jobs",
            "1",
            *args,
            cwd=cwd,
            text=False,
            timeout=timeout,
            env=ONE_THREAD,
            preexec_fn=bounded_memory,
            **stdin,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"mnist-predict {' '.join(map(str, args))} still ran after {timeout} s")
    records = [json.loads(line) for line in run.stdout.decode().splitlines()]
    return records, run.stderr.decode(), run.returncode, seconds


def test_a_missing_file_is_reported_and_the_others_answered(digits, tmp_path):
    _, files = digits
    missing = tmp_path / "missing.png"
    records, stderr, status, _ = hostile(files[0][0], missing, files[1][0])
    assert status == 1
    assert [r["path"] for r in records] == [str(files[0][0]), str(missing), str(files[1][0])]
    assert (records[0]["digit"], records[2]["digit"]) == (files[0][2], files[1][2])
    assert records[1]["error"] == {
        "code": "unreadable_file",
        "message": "cannot read the file (No such file or directory)",
    }
    assert stderr.startswith("3 images: 2 answered (0 uncertain), 1 failed, in ")


def test_counts_are_told_in_correct_plurals(digits):
    _, files = digits
    records, stderr, status, _ = hostile(files[0][0])
    assert status == 0 and len(records) == 1
    assert stderr.startswith("1 image: 1 answered (0 uncertain), 0 failed, in ")
    assert stderr.rstrip().endswith(" s with 1 job")


def test_a_fifo_and_a_device_get_an_error_line_each_and_the_rest_is_answered(digits, tmp_path):
    _, files = digits
    fifo = tmp_path / "scan.png"
    os.mkfifo(fifo)  # nobody ever writes to it: opening it for reading would wait forever
    records, _, status, seconds = hostile(fifo, "/dev/zero", files[0][0])
    assert status == 1 and seconds < 5
    assert records[0] == {
        "path": str(fifo),
        "error": {"code": "unreadable_file", "message": "is a FIFO, not a regular file; it is not read"},
    }
    assert records[1]["error"]["message"] == "is a character device, not a regular file; it is not read"
    assert records[2]["digit"] == files[0][2]


def test_stdin_is_read_only_up_to_the_limit(digits):
    _, files = digits
    with open("/dev/zero", "rb") as zeros:
        records, _, status, seconds = hostile("-", files[0][0], stdin=zeros)
    assert status == 1 and seconds < 5
    assert records[0] == {
        "path": "<stdin>",
        "error": {
            "code": "file_too_large",
            "message": "stdin holds more than --max-bytes 16 MiB (16,777,216 bytes)",
        },
    }
    assert records[1]["digit"] == files[0][2]


def test_a_big_sparse_file_is_refused_from_its_size_without_being_read(digits, tmp_path):
    _, files = digits
    sparse = tmp_path / "huge.png"
    with open(sparse, "wb") as file:
        file.truncate(2**30)  # 1 GiB that takes no disk, and 1 GiB of memory if read
    records, _, status, seconds = hostile(sparse, files[0][0])
    assert status == 1 and seconds < 5
    assert records[0]["error"] == {
        "code": "file_too_large",
        "message": "the file holds 1 GiB (1,073,741,824 bytes), over --max-bytes 16 MiB (16,777,216 bytes)",
    }
    assert records[1]["digit"] == files[0][2]


def test_max_bytes_sets_the_limit(digits):
    _, files = digits
    path, data, label = files[0]
    records, _, status, _ = hostile("--max-bytes", len(data) - 1, path, "-", input=data)
    assert status == 1 and [r["error"]["code"] for r in records] == ["file_too_large"] * 2
    records, _, status, _ = hostile("--max-bytes", len(data), path, "-", input=data)
    assert status == 0 and [r["digit"] for r in records] == [label, label]


def test_symbolic_link_loops_end_the_listing(digits, tmp_path):
    """Three loops (links to the parent, to the folder itself, to ".") make the glob module's `**`
    walk a tree that branches at every level and does not end; the real images are listed once."""
    _, files = digits
    (tmp_path / "a" / "b").mkdir(parents=True)
    for folder, (_, data, _) in zip(("a", "a/b"), files):
        (tmp_path / folder / "digit.png").write_bytes(data)
    (tmp_path / "a" / "up").symlink_to("..")
    (tmp_path / "a" / "b" / "self").symlink_to("../b")
    (tmp_path / "a" / "here").symlink_to(".")
    expected = ["a/b/digit.png", "a/digit.png"]
    for pattern in ("**/*.png", "a/**", "a"):
        records, _, status, seconds = hostile(pattern, cwd=tmp_path)
        assert status == 0 and seconds < 5
        assert [r["path"] for r in records] == expected, pattern
        assert [r["digit"] for r in records] == [files[1][2], files[0][2]]


def test_folders_and_globs_stop_at_the_file_limit(digits, tmp_path):
    _, files = digits
    for i in range(3):
        (tmp_path / f"digit-{i}.png").write_bytes(files[i][1])
    for paths in ([tmp_path], [f"{tmp_path}/*.png"], [files[0][0], tmp_path]):
        records, stderr, status, seconds = hostile("--max-files", 2, *paths)
        assert (records, status) == ([], 2) and seconds < 5
        assert stderr == f"error: {paths[-1]}: more than 2 images in all; name fewer or raise --max-files\n"
    records, _, status, _ = hostile("--max-files", 3, tmp_path)
    assert status == 0 and len(records) == 3


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted(digits, tmp_path):
    _, files = digits
    names = ["=HYPERLINK(1).png", "+1.png", "-1.png", "@SUM(A1).png", "\tx.png", "\rx.png", "plain.png"]
    for name in names:
        (tmp_path / name).write_bytes(files[0][1])
    run, _ = run_tool("mnist-predict", "--format", "csv", "--", *names, cwd=tmp_path, text=False)
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout.decode(), newline="")))
    assert [row["path"] for row in rows] == ["'" + name for name in names[:-1]] + ["plain.png"]
    assert all(row["digit"] == str(files[0][2]) for row in rows)
    helped, _ = run_tool("mnist-predict", "--help")
    assert "formula" in helped.stdout
