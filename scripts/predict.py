"""Classify digit images without a server: files, folders, globs, or `-` for stdin.

    mnist-predict scans/ extra/*.png [--weights W] [--format jsonl|csv] [--jobs N] [--preview-dir DIR]

One line per image on stdout, in the order the images were named (a folder's files
sorted): {"path", "digit", "confidence", "uncertain"}, or {"path", "error": {"code",
"message"}} for an image that cannot be classified, with the HTTP API's error codes, and
`unreadable_file` for a file that cannot be read at all (missing, a FIFO or a device) or
`file_too_large` for one over --max-bytes. The images go through the
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
from .cli import USAGE_ERROR, fail, number, parser, plural, writable_folder
from .image_paths import MAX_BYTES, MAX_FILES, NoSuchPath, TooManyFiles, UnreadableImage, image_sources

PROG = "mnist-predict"
CHUNK = 64  # images per task handed to a worker process: large enough to hide the hand-over
ANSWER_KEYS = ("digit", "confidence", "uncertain")  # of the Classifier's answers; not the ten probabilities
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
CSV_COLUMNS = ("path", "digit", "confidence", "uncertain", "error_code", "error_message")
# A spreadsheet reads a cell starting with one of these as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def parse_args(argv=None):
    cli = parser(PROG, __doc__)
    cli.add_argument("paths", nargs="+", metavar="PATH", help="image file, folder, glob, or - for stdin")
    cli.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="weights file (.npz)")
    cli.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        default="jsonl",
        help="output format; in csv, a cell starting with = + - @, a tab or a carriage return gets a "
        "leading ' so that a spreadsheet shows it as text and never runs it as a formula",
    )
    cli.add_argument(
        "--jobs", type=number(int, at_least=1), default=os.cpu_count() or 1, help="worker processes"
    )
    cli.add_argument(
        "--preview-dir", type=writable_folder, help="write each image's 28x28 network input here as PNG"
    )
    cli.add_argument(
        "--max-bytes",
        type=number(int, at_least=1),
        default=MAX_BYTES,
        help="largest image file (or stdin) read, in bytes; a larger one gets an error line, unread",
    )
    cli.add_argument(
        "--max-files",
        type=number(int, at_least=1),
        default=MAX_FILES,
        help="most images the PATHs may name in all (folders and globs are listed up to it)",
    )
    return cli.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        sources = image_sources(args.paths, sys.stdin.buffer, args.max_bytes, args.max_files)
        Classifier(args.weights)  # a bad weights file stops here, once, not in every worker
    except (NoSuchPath, TooManyFiles, WeightsError) as exc:
        fail(exc, USAGE_ERROR)
    if not sources:
        fail(f"no image files found in {', '.join(args.paths)}", USAGE_ERROR)
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
        f"{plural(len(sources), 'image')}: {len(sources) - failed:,} answered ({uncertain:,} uncertain), "
        f"{failed:,} failed, in {seconds:.2f} s with {plural(args.jobs, 'job')}",
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
        except (PreprocessError, UnreadableImage) as exc:
            records.append({"path": source.name, "error": {"code": exc.code, "message": str(exc)}})
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
    # Text quoted: a carriage return in a file name must not end the row where a reader would.
    rows = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    rows.writerow(CSV_COLUMNS)

    def write_row(record):
        error = record.get("error", {})
        values = {**record, "error_code": error.get("code"), "error_message": error.get("message")}
        rows.writerow([csv_cell(values.get(column)) for column in CSV_COLUMNS])

    return write_row


def csv_cell(value):
    """The value as a CSV cell: None empty, text that a spreadsheet would run as a formula
    (a path or a message can start with anything) quoted with a leading '."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


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
