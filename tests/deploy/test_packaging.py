"""What `pip install` gives a user: the wheel holds one package, and it works from any folder.

The wheel is built from this checkout and installed, with its runtime dependencies only,
into a fresh virtual environment. It is then run from a folder holding `data.py`,
`model.py`, `service.py`, `scripts.py` and `lab.py` that fail on import: the generic names a user may
have lying around must change nothing.
"""

import json
import shutil
import subprocess
import sys
import urllib.request
import zipfile

import pytest

from benchmarks.serving import ServerFailed, free_port, stop, wait_ready
from tests.images import drawn_digit, encode
from tests.machine import REPO, skip_or_fail

pytestmark = pytest.mark.packaging
# Left out of the copy the wheel is built from: history, environments, build products, caches.
NOT_SOURCES = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis")


def run(*args, timeout=300, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    # Built from a copy without earlier build products: setuptools packs whatever is left in build/lib,
    # modules moved or deleted since included.
    source = tmp_path_factory.mktemp("source") / "checkout"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    out = tmp_path_factory.mktemp("wheel")
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source))
    if built.returncode != 0:
        skip_or_fail(f"cannot build the wheel: {built.stderr.strip()[-500:]}")
    (path,) = out.glob("mnist_mlp_service-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel):
    folder = tmp_path_factory.mktemp("venv")
    assert run(sys.executable, "-m", "venv", str(folder)).returncode == 0
    installed = run(str(folder / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel))
    if installed.returncode != 0:
        skip_or_fail(f"cannot install the wheel's dependencies: {installed.stderr.strip()[-500:]}")
    return folder / "bin"


@pytest.fixture
def cluttered(tmp_path):
    """A current folder whose generic module names would break a badly packaged project."""
    for name in ("data", "model", "service", "scripts", "lab"):
        (tmp_path / f"{name}.py").write_text(f"raise ImportError('the local {name}.py was imported')\n")
    return tmp_path


def test_the_wheel_installs_one_top_level_package(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert archive.read(top_level).decode().split() == ["mnist_mlp"]
    packages = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert packages == {"mnist_mlp"}, packages
    for data in (
        "mnist_mlp/model/weights/mnist_mlp.npz",
        "mnist_mlp/data/imaging/drawing.json",
        "mnist_mlp/service/static/app.js",
        "mnist_mlp/service/templates/index.html",
        "mnist_mlp/service/templates/docs.html",
        "mnist_mlp/service/static/docs.js",
        "mnist_mlp/service/openapi.json",
        "mnist_mlp/scripts/samples/page-digit.png",
        "mnist_mlp/lab/templates/index.html",
        "mnist_mlp/lab/static/lab.js",
        "mnist_mlp/lab/static/chart.js",
        "mnist_mlp/lab/static/pad.js",
        "mnist_mlp/lab/static/lab.css",
    ):
        assert data in names, f"{data} is not in the wheel"
    assert not any(n.startswith("mnist_mlp/") and "/tests/" in n for n in names)


def test_the_wheel_holds_none_of_the_benchmarks(wheel):
    """benchmarks/ runs from a checkout only: none of its files is in the wheel, under any name."""
    ours = {
        path.read_bytes(): path.relative_to(REPO).as_posix()
        for path in (REPO / "benchmarks").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        shipped = sorted(ours[data] for data in map(archive.read, names) if data in ours)
    assert shipped == [], f"in the wheel: {shipped}"
    assert not [n for n in names if "bench" in n.rpartition("/")[2]]


def test_console_scripts_answer_help_and_version(venv, cluttered):
    version = run(
        str(venv / "python"),
        "-c",
        "from importlib.metadata import version; print(version('mnist-mlp-service'))",
    )
    for tool in (
        "mnist-train",
        "mnist-evaluate",
        "mnist-serve",
        "mnist-predict",
        "mnist-export",
        "mnist-feedback",
        "mnist-lab",
    ):
        helped = run(str(venv / tool), "--help", cwd=cluttered)
        assert helped.returncode == 0 and "usage:" in helped.stdout, helped.stderr
        shown = run(str(venv / tool), "--version", cwd=cluttered)
        assert shown.returncode == 0 and shown.stdout.split() == [tool, version.stdout.strip()], shown
    assert "(default: 10)" in run(str(venv / "mnist-train"), "--help", cwd=cluttered).stdout


def test_tools_without_the_train_extra_say_how_to_install_it(venv, cluttered):
    for tool in ("mnist-train", "mnist-evaluate"):
        done = run(str(venv / tool), "--data-dir", str(cluttered), cwd=cluttered)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1 and len(lines) == 1, done.stderr
        assert lines[0].startswith(f"error: {tool} needs ") and "mnist-mlp-service[train]" in lines[0]


def test_mnist_predict_works_without_extras_and_mnist_export_says_what_to_install(venv, cluttered):
    (cluttered / "digit.png").write_bytes(encode(drawn_digit()))
    done = run(str(venv / "mnist-predict"), "digit.png", "--jobs", "2", cwd=cluttered)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["path"], answer["digit"]) == ("digit.png", 1)
    exported = run(str(venv / "mnist-export"), "--onnx", "m.onnx", cwd=cluttered)
    assert exported.returncode == 1 and exported.stderr.strip().splitlines() == [
        "error: mnist-export needs onnx: pip install 'mnist-mlp-service[export]'"
    ]


def test_python_m_forms_and_the_benchmark_sample_work_installed(venv, cluttered):
    for module in (
        "mnist_mlp.scripts.train",
        "mnist_mlp.scripts.eval_rendered",
        "mnist_mlp.service",
        "mnist_mlp.lab",
    ):
        done = run(str(venv / "python"), "-m", module, "--help", cwd=cluttered)
        assert done.returncode == 0, done.stderr
    sample = run(
        str(venv / "python"),
        "-c",
        "from importlib.resources import files; "
        "print(len(files('mnist_mlp.scripts').joinpath('samples', 'page-digit.png').read_bytes()))",
        cwd=cluttered,
    )
    assert sample.returncode == 0 and int(sample.stdout) > 100, sample.stderr


def test_the_installed_server_answers_predict(venv, cluttered):
    port = free_port()
    proc = subprocess.Popen(
        [str(venv / "mnist-serve")],
        cwd=cluttered,
        env={"PATH": str(venv), "PORT": str(port), "WORKERS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_ready(proc, base)
        except ServerFailed as exc:
            pytest.fail(f"{exc}: {stop(proc)[1][-2000:]}")
        request = urllib.request.Request(
            base + "/predict", data=encode(drawn_digit()), headers={"Content-Type": "image/png"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        assert answer["digit"] == 1 and answer["model"].startswith("mnist-mlp-")
    finally:
        stop(proc)
