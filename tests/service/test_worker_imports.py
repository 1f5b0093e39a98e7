"""What a worker loads: its weights, its app and its first answers import no numpy.random (its
extension modules cost each worker about 3 MB of RSS; issue 25)."""

import subprocess
import sys

WORKER = """
import sys
from mnist_mlp.model import DEFAULT_WEIGHTS
from mnist_mlp.service.app import create_app
from mnist_mlp.service.worker import load_classifier
from importlib import resources

classifier, _ = load_classifier(DEFAULT_WEIGHTS)
client = create_app({}, classifier).test_client()
png = resources.files("mnist_mlp.scripts").joinpath("samples", "page-digit.png").read_bytes()
assert client.post("/predict", data=png, content_type="image/png").status_code == 200
assert client.get("/healthz").status_code == 200
print(sorted(name for name in sys.modules if name.startswith("numpy.random")))
"""


def test_a_worker_serving_predictions_never_imports_numpy_random():
    # a fresh interpreter: the test process itself has numpy.random from other tests
    done = subprocess.run([sys.executable, "-c", WORKER], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
