"""Classify digit images without a server: files, folders, globs, or `-` for stdin.

    mnist-predict scans/ extra/*.png [--weights W] [--format jsonl|csv] [--jobs N] [--preview-dir DIR]

One line per image on stdout, in the order the images were named (a folder's files
sorted): {"path", "digit", "confidence", "uncertain"}, or {"path", "error": {"code",
"message"}} for an image that cannot be classified, with the HTTP API's error codes
(`unreadable_file` for a file that cannot be read at all). The images go through the
service's own `preprocess` and `Classifier`, in this process or spread over --jobs
processes. A summary goes to stderr, with a progress line while stderr is a terminal.
Exit status: 0 when every image was answered, 1 when some failed, 2 for usage errors.
"""

import csv
import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from ..data.preprocess import PreprocessError, preprocess
from ..data.preview import input_png
from ..model import DEFAULT_WEIGHTS, Classifier, WeightsError
from .cli import fail, parser
from .image_paths import NoSuchPath, image_sources

PROG = "mnist-predict"
USAGE_ERROR = 2
CHUNK = 64  # images per task handed to a worker process: large enough to hide the hand-over
ANSWER_KEYS = ("digit", "confidence", "uncertain")  # of the Classifier's answers; not the ten probabilities
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CSV_COLUMNS = ("path", "digit", "confidence", "uncertain", "error_code", "error_message")


def parse_args(argv=None):
    cli = parser(PROG, __doc__)
    cli.add_argument("paths", nargs="+", metavar="PATH", help="image file, folder, glob, or - for stdin")
    cli.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="weights file (.npz)")
    cli.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="output format")
    cli.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1, help="worker processes")
    cli.add_argument("--preview-dir", type=Path, help="write each image's 28x28 network input here as PNG")
    return cli.parse_args(argv)


def positive_int(text):
    number = int(text)
    if number < 1:
        raise ValueError(text)
    return number


def main(argv=None):
    args = parse_args(argv)
    try:
        sources = image_sources(args.paths, sys.stdin.buffer)
        Classifier(args.weights)  # a bad weights file stops here, once, not in every worker
    except (NoSuchPath, WeightsError) as exc:
        fail(exc, USAGE_ERROR)
    if not sources:
        fail("no image files found in the given folders", USAGE_ERROR)
    if args.preview_dir:
        args.preview_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    write = record_writer(args.format, sys.stdout)
    failed = uncertain = 0
    for record in progress(classify(sources, args.weights, args.jobs, args.preview_dir), len(sources)):
        write(record)
        failed += "error" in record
        uncertain += record.get("uncertain", False)
    seconds = time.perf_counter() - started
    print(
        f"{len(sources)} images: {len(sources) - failed} answered ({uncertain} uncertain), "
        f"{failed} failed, in {seconds:.2f} s with {args.jobs} job(s)",
        file=sys.stderr,
    )
    return 1 if failed else 0


def classify(sources, weights, jobs, preview_dir=None):
    """One record per source, in order, from `jobs` processes (or this one for jobs == 1)."""
    numbered = list(enumerate(sources))
    chunks = [numbered[i : i + CHUNK] for i in range(0, len(numbered), CHUNK)]
    if jobs == 1 or len(chunks) == 1:
        _load(weights, preview_dir)
        yield from (record for chunk in chunks for record in classify_chunk(chunk))
        return
    # The processes are the parallelism: each worker's BLAS gets one thread, or its idle
    # threads spin on the cores the other workers need. BLAS reads the setting when NumPy is
    # first imported, hence fresh (spawned) workers; a caller's own setting is kept.
    for variable in BLAS_THREADS:
        os.environ.setdefault(variable, "1")
    with ProcessPoolExecutor(
        jobs, mp_context=get_context("spawn"), initializer=_load, initargs=(weights, preview_dir)
    ) as pool:
        for records in pool.map(classify_chunk, chunks):
            yield from records


_worker = {}  # the Classifier and preview folder of this process, set by _load


def _load(weights, preview_dir):
    _worker.update(classifier=Classifier(weights), preview_dir=preview_dir)


def classify_chunk(chunk):
    """Records for [(index, ImageSource), ...]: the readable images go through the network as one batch."""
    records, inputs, answered = [], [], []
    for index, source in chunk:
        try:
            inputs.append(preprocess(source.read()))
        except PreprocessError as exc:
            records.append({"path": source.name, "error": {"code": exc.code, "message": str(exc)}})
            continue
        except OSError as exc:
            message = f"cannot read the file ({exc.strerror or exc})"
            records.append({"path": source.name, "error": {"code": "unreadable_file", "message": message}})
            continue
        records.append({"path": source.name})
        answered.append((records[-1], index, source.name))
    if inputs:
        classifier = _worker["classifier"]
        for (record, index, name), answer, x in zip(answered, classifier.answers(inputs), inputs):
            record.update((key, answer[key]) for key in ANSWER_KEYS)
            if _worker["preview_dir"]:
                (_worker["preview_dir"] / preview_name(index, name)).write_bytes(input_png(x))
    return records


def preview_name(index, name):
    """A file name unique in the run (the image's position) that still says which image it was."""
    stem = re.sub(r"[^\w.-]+", "_", Path(name).stem).strip("_") or "image"
    return f"{index:06d}-{stem}.png"


def record_writer(fmt, stream):
    """A function writing one record as a line of `fmt` to `stream`."""
    if fmt == "jsonl":
        return lambda record: stream.write(json.dumps(record) + "\n")
    rows = csv.writer(stream, lineterminator="\n")
    rows.writerow(CSV_COLUMNS)

    def write_row(record):
        error = record.get("error", {})
        values = {**record, "error_code": error.get("code"), "error_message": error.get("message")}
        rows.writerow(["" if values.get(column) is None else values[column] for column in CSV_COLUMNS])

    return write_row


def progress(records, total, stream=sys.stderr, every=100):
    """The records, counting them on one rewritten line of `stream` when it is a terminal."""
    if not stream.isatty():
        yield from records
        return
    for done, record in enumerate(records, 1):
        if done % every == 0 or done == total:
            stream.write(f"\r{done}/{total} images")
            stream.flush()
        yield record
    stream.write("\n")


if __name__ == "__main__":
    raise SystemExit(main())
