"""The container image, built and exercised with podman (issue 6).

Builds the top-level Dockerfile with the repository as context, runs the image on free
loopback ports and checks what a `docker run` user relies on: readiness, a real prediction,
a non-root process tree, the HEALTHCHECK, a mounted weights file, a clear failure on a corrupt
one, and a prompt graceful stop. Everything the test creates is removed by id.

Podman comes from ../shared/container/podman-setup (idempotent, ~1 min the first time), which
also provides the local stand-in for python:3.11-slim (no image registry is reachable here).
Outside CI the test is skipped when podman cannot be set up; under CI=true it fails instead.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.images import encode
from tests.live_server import free_port
from tests.machine import REPO, skip_or_fail

pytestmark = pytest.mark.container

PODMAN_SETUP = REPO / ".." / "shared" / "container" / "podman-setup"
SHIPPED_WEIGHTS = REPO / "model" / "weights" / "mnist_mlp.npz"

READY_TIMEOUT = 30.0  # generous bound for a shared 2-core machine; the target is <= 3 s
READY_BUDGET = 10.0  # start-to-ready must stay under this (printed value is the real figure)
STOP_TIMEOUT = 10
# Target: <= 300 MB in all. The official python:3.11-slim is ~130 MB, so the layers the Dockerfile
# adds get 120 MB (bytes; podman and docker report decimal megabytes). The local stand-in base
# is bigger (Debian's python3), so the total is printed, not asserted.
ADDED_LIMIT = 120 * 1000 * 1000
# Not for serving: the train, dev and bench extras, pip, and the export extra (onnx).
FORBIDDEN_MODULES = (
    "sklearn",
    "matplotlib",
    "torch",
    "pytest",
    "hypothesis",
    "tqdm",
    "playwright",
    "pip",
    "onnx",
)


def _podman(*args, timeout=120, check=True):
    proc = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} exited {proc.returncode}\n"
            f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}"
        )
    return proc


def _http(method, url, body=None, headers=None, timeout=5.0):
    """(status, parsed JSON or raw text) without raising on HTTP errors."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def podman():
    """podman set up and able to build FROM python:3.11-slim without a registry."""
    setup = PODMAN_SETUP.resolve()
    if setup.is_file() and os.geteuid() == 0:
        started = time.monotonic()
        try:
            proc = subprocess.run(
                ["bash", str(setup)], capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            skip_or_fail("podman-setup did not finish within 600 s")
        if proc.returncode != 0:
            skip_or_fail(f"podman-setup exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}")
        print(f"\npodman-setup: {time.monotonic() - started:.1f} s")
    if shutil.which("podman") is None:
        skip_or_fail("podman is not installed")
    if _podman("image", "exists", "python:3.11-slim", check=False).returncode != 0:
        skip_or_fail("no python:3.11-slim image (run ../shared/container/podman-setup as root)")
    return "podman"


@pytest.fixture(scope="module")
def image(podman):
    """The image built from the repository; removed by id afterwards."""
    tag = f"localhost/mnist-mlp-service-test:{uuid.uuid4().hex[:12]}"
    iidfile = Path(tempfile.mkdtemp(prefix="mnist-iid-")) / "iid"
    started = time.monotonic()
    # --format docker keeps HEALTHCHECK (the OCI format has no field for it);
    # --layers=false leaves no intermediate images behind.
    proc = _podman(
        "build",
        "--pull=never",
        "--format",
        "docker",
        "--layers=false",
        "--iidfile",
        str(iidfile),
        "-t",
        tag,
        str(REPO),
        timeout=900,
        check=False,
    )
    image_id = iidfile.read_text().strip() if iidfile.exists() else ""
    shutil.rmtree(iidfile.parent, ignore_errors=True)
    try:
        assert proc.returncode == 0, f"podman build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        assert image_id, "podman build wrote no image id"
        size = int(_podman("image", "inspect", "--format", "{{.Size}}", image_id).stdout.strip())
        print(
            f"\nimage {tag}: build {time.monotonic() - started:.1f} s, "
            f"size {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB)"
        )
        yield {"id": image_id, "tag": tag, "size": size}
    finally:
        if image_id:
            _podman("rmi", "--force", image_id, check=False)
        else:
            _podman("rmi", "--force", tag, check=False)


class Containers:
    """Starts containers from the image and removes each by id at teardown."""

    def __init__(self, image_id):
        self.image_id = image_id
        self.ids = []
        self.tmpdir = Path(tempfile.mkdtemp(prefix="mnist-ctr-"))
        self.tmpdir.chmod(0o755)

    def run(self, *options, env=None, mounts=()):
        """Start detached on a free loopback port; returns (container id, base url, start time)."""
        port = free_port()
        args = ["run", "-d", "--init", "-p", f"127.0.0.1:{port}:8000"]
        for key, value in (env or {}).items():
            args += ["-e", f"{key}={value}"]
        for host, target in mounts:
            args += ["-v", f"{host}:{target}:ro"]
        started = time.monotonic()
        proc = _podman(*args, *options, self.image_id, timeout=60)
        cid = proc.stdout.strip().splitlines()[-1]
        self.ids.append(cid)
        return cid, f"http://127.0.0.1:{port}", started

    def wait_ready(self, cid, base, started):
        """Seconds from `podman run` to the first 200 from /readyz."""
        deadline = started + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            try:
                status, _ = _http("GET", f"{base}/readyz", timeout=1.0)
                if status == 200:
                    return time.monotonic() - started
                last = f"HTTP {status}"
            except OSError as exc:  # not listening yet
                last = repr(exc)
            if self.state(cid) not in {"running", "created", "configured"}:
                break
            time.sleep(0.05)
        raise AssertionError(
            f"container never became ready ({last}); state {self.state(cid)}\n{self.logs(cid)[-3000:]}"
        )

    def state(self, cid):
        return _podman("inspect", "--format", "{{.State.Status}}", cid, check=False).stdout.strip()

    def logs(self, cid):
        proc = _podman("logs", cid, check=False)
        return proc.stdout + proc.stderr

    def cleanup(self):
        for cid in self.ids:
            _podman("rm", "--force", "--time", "0", cid, check=False)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


@pytest.fixture(scope="module")
def containers(image):
    box = Containers(image["id"])
    try:
        yield box
    finally:
        box.cleanup()


@pytest.fixture(scope="module")
def served(containers):
    """One container with the shipped weights, as a plain `docker run --init -p` user starts it."""
    cid, base, started = containers.run()
    seconds = containers.wait_ready(cid, base, started)
    print(f"\nstart to ready (shipped weights): {seconds:.2f} s")
    return {"id": cid, "base": base, "ready_s": seconds}


@pytest.fixture(scope="module")
def mnist_samples(mnist):
    """A few MNIST test images (uint8 28x28, white on black) and their labels."""
    _, _, x_test, y_test = mnist
    return [(x_test[i].reshape(28, 28), int(y_test[i])) for i in range(5)]


def _png(pixels):
    return encode(Image.fromarray(np.asarray(pixels, dtype=np.uint8)))


def _multipart(field, filename, payload, content_type="image/png"):
    boundary = f"----mnist{uuid.uuid4().hex}"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def _predict(base, png):
    """POST the PNG as a multipart upload (field "image"), as the page and curl -F do."""
    body, headers = _multipart("image", "digit.png", png)
    return _http("POST", f"{base}/predict", body=body, headers=headers, timeout=10.0)


def _model_sha(base):
    status, body = _http("GET", f"{base}/model")
    assert status == 200, body
    assert isinstance(body, dict), body
    sha = body.get("sha256") or body.get("weights_sha256") or (body.get("weights") or {}).get("sha256")
    assert sha, f"/model shows no sha256: {body}"
    return sha


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- image


def test_image_is_small_and_serving_only(image):
    base = int(_podman("image", "inspect", "--format", "{{.Size}}", "python:3.11-slim").stdout.strip())
    added = image["size"] - base
    print(f"\nimage {image['size'] / 1e6:.1f} MB = base {base / 1e6:.1f} MB + {added / 1e6:.1f} MB added")
    assert added <= ADDED_LIMIT, f"the image adds {added / 1e6:.1f} MB to its base"
    probe = "\n".join(
        [
            "import importlib.util, json, os",
            f"print(json.dumps([m for m in {FORBIDDEN_MODULES!r} if importlib.util.find_spec(m)]))",
            "found = []",
            "for root, dirs, files in os.walk('/'):",
            "    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ('/proc', '/sys', '/dev')]",
            "    found += [os.path.join(root, f) for f in files if 'ubyte' in f]",
            "print(json.dumps(found))",
        ]
    )
    proc = _podman("run", "--rm", "--entrypoint", "python", image["id"], "-c", probe, timeout=120)
    modules, data_files = (json.loads(line) for line in proc.stdout.strip().splitlines()[-2:])
    assert modules == [], f"not serving dependencies, but in the image: {modules}"
    assert data_files == [], f"training data in the image: {data_files}"


def test_package_data_is_installed(image):
    """Weights, page templates, static files, openapi.json and the benchmark sample reach mnist_mlp."""
    patterns = (
        "model/weights/*.npz",
        "service/templates/*",
        "service/static/*",
        "service/openapi.json",
        "scripts/samples/*.png",
    )
    wanted = sorted(
        p.relative_to(REPO).as_posix() for pattern in patterns for p in REPO.glob(pattern) if p.is_file()
    )
    probe = (
        "import importlib.util, json, os, sys; from pathlib import Path;"
        "root = Path(importlib.util.find_spec('mnist_mlp.model').origin).parents[1];"
        "print(json.dumps([w for w in sys.argv[1:] if not (root / w).is_file()]))"
    )
    proc = _podman("run", "--rm", "--entrypoint", "python", image["id"], "-c", probe, *wanted, timeout=120)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [], f"missing in the image: {proc.stdout}"


def test_image_metadata(image):
    inspect = json.loads(_podman("image", "inspect", image["id"]).stdout)[0]
    config = inspect["Config"]
    user = config.get("User", "")
    assert user and user.split(":")[0] not in {"0", "root"}, user
    assert "8000/tcp" in (config.get("ExposedPorts") or {}), config.get("ExposedPorts")
    health = json.dumps(inspect.get("Healthcheck") or config.get("Healthcheck") or {})  # podman | docker
    assert "/healthz" in health, f"HEALTHCHECK missing (built without --format docker?): {health}"
    assert config.get("Entrypoint") == ["python", "-m", "mnist_mlp.service"], config.get("Entrypoint")


# ---------------------------------------------------------------- shipped weights


def test_ready_quickly(served):
    assert served["ready_s"] <= READY_BUDGET, f"start to ready took {served['ready_s']:.2f} s"
    status, _ = _http("GET", f"{served['base']}/healthz")
    assert status == 200


def test_predicts_real_mnist_png(served, mnist_samples):
    for pixels, label in mnist_samples:
        status, body = _predict(served["base"], _png(pixels))
        assert status == 200, body
        assert body["digit"] == label, f"expected {label}, got {body}"
        assert 0.0 <= float(body["confidence"]) <= 1.0, body


def test_serves_the_page(served):
    request = urllib.request.Request(f"{served['base']}/", headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
        assert response.headers.get_content_type() == "text/html"


def test_serves_the_shipped_weights(served):
    assert _model_sha(served["base"]) == _sha256(SHIPPED_WEIGHTS)


def test_metrics_endpoint(served):
    status, body = _http("GET", f"{served['base']}/metrics")
    assert status == 200
    assert "# TYPE" in str(body)


def test_processes_run_as_non_root(served):
    probe = (
        "import os, pathlib;"
        "print(sorted({int(l.split()[1]) for p in pathlib.Path('/proc').iterdir() if p.name.isdigit()"
        " for l in (p / 'status').read_text().splitlines() if l.startswith('Uid:')}))"
    )
    uids = json.loads(_podman("exec", served["id"], "python", "-c", probe).stdout.strip())
    assert uids and 0 not in uids, f"real uids inside the container: {uids}"
    top = _podman("top", served["id"], "user", "args", check=False).stdout
    assert "granian" in top or "service" in top, top


def test_healthcheck_reports_healthy(served):
    proc = _podman("healthcheck", "run", served["id"], check=False, timeout=60)
    assert proc.returncode == 0, f"healthcheck: {proc.stdout}{proc.stderr}"
    status = _podman("inspect", "--format", "{{.State.Health.Status}}", served["id"], check=False)
    assert status.stdout.strip() in {"healthy", ""}, status.stdout  # "" on podman without the field


def test_stop_is_prompt_and_graceful(served, containers):
    # Last test on this container (pytest runs a file's tests in order).
    started = time.monotonic()
    _podman("stop", "-t", str(STOP_TIMEOUT), served["id"], timeout=60)
    took = time.monotonic() - started
    print(f"\npodman stop: {took:.2f} s")
    assert took < STOP_TIMEOUT, f"podman stop took {took:.1f} s (SIGTERM ignored? killed after timeout)"
    code = _podman("inspect", "--format", "{{.State.ExitCode}}", served["id"]).stdout.strip()
    assert code in {"0", "143"}, f"exit code {code} after SIGTERM\n{containers.logs(served['id'])[-2000:]}"


# ---------------------------------------------------------------- mounted weights


def test_mounted_weights_are_used(containers, mnist_samples):
    """Own weights mounted read-only, with the hardening of deploy/kubernetes (read-only root, /tmp tmpfs)."""
    from mnist_mlp.model import load_weights, save_weights

    model, meta = load_weights(SHIPPED_WEIGHTS)
    custom = containers.tmpdir / "custom.npz"
    save_weights(custom, model, {**meta, "note": "container test: same layers, different file"})
    custom.chmod(0o644)
    assert _sha256(custom) != _sha256(SHIPPED_WEIGHTS)

    cid, base, started = containers.run(
        "--read-only",
        "--read-only-tmpfs=false",
        "--tmpfs",
        "/tmp:rw,mode=1777",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        env={"MODEL_PATH": "/weights/custom.npz", "WORKERS": "1"},
        mounts=[(custom, "/weights/custom.npz")],
    )
    seconds = containers.wait_ready(cid, base, started)
    print(f"\nstart to ready (mounted weights, read-only root): {seconds:.2f} s")
    assert _model_sha(base) == _sha256(custom)
    pixels, label = mnist_samples[0]
    status, body = _predict(base, _png(pixels))
    assert status == 200 and body["digit"] == label, body
    _podman("stop", "-t", str(STOP_TIMEOUT), cid, timeout=60)


def test_corrupt_mounted_weights_exit_with_clear_message(containers):
    bad = containers.tmpdir / "corrupt.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a weights file " + os.urandom(256))
    bad.chmod(0o644)
    target = "/weights/corrupt.npz"
    cid, _, _ = containers.run(env={"MODEL_PATH": target}, mounts=[(bad, target)])
    proc = _podman("wait", cid, timeout=60)
    code = int(proc.stdout.strip().splitlines()[-1])
    logs = containers.logs(cid)
    print(f"\ncorrupt weights: exit {code}, log:\n{logs.strip()[-1000:]}")
    assert code != 0, f"container exited 0 with corrupt weights\n{logs}"
    assert target in logs, f"the message does not name the file:\n{logs}"
    assert "Traceback" not in logs, f"expected one clear line, got a traceback:\n{logs}"
