"""mnist-export writes an ONNX model that ONNX Runtime runs like our Classifier on all 10,000
MNIST test images: probabilities within 1e-5, the same digits."""

import hashlib
import resource
import signal
import subprocess

import numpy as np
import pytest

from mnist_mlp.model import DEFAULT_WEIGHTS, MLP, Classifier, save_weights
from mnist_mlp.model.contract import as_inputs
from tests.machine import skip_or_fail
from tests.tools import assert_usage_error, console_script, run_module

try:
    import onnx
    import onnxruntime
except ImportError:  # pragma: no cover - depends on the environment
    onnx = onnxruntime = None


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    if onnx is None or onnxruntime is None:
        skip_or_fail("onnx and onnxruntime are needed: pip install -e '.[dev]'")
    path = tmp_path_factory.mktemp("onnx") / "deep" / "mnist_mlp.onnx"
    run = run_module("export", "--weights", DEFAULT_WEIGHTS, "--onnx", path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"wrote {path}")
    return path


def test_the_model_passes_the_checker_and_says_what_it_is(exported):
    model = onnx.load(exported)
    onnx.checker.check_model(model, full_check=True)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    graph = model.graph
    shapes = {
        value.name: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        for value in [*graph.input, *graph.output]
    }
    assert shapes == {"input": ["N", 784], "logits": ["N", 10], "probabilities": ["N", 10]}
    assert all(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT for v in [*graph.input, *graph.output])
    classifier = Classifier(DEFAULT_WEIGHTS)
    props = {p.key: p.value for p in model.metadata_props}
    assert props["opset"] == "17"
    assert props["weights_sha256"] == hashlib.sha256(DEFAULT_WEIGHTS.read_bytes()).hexdigest()
    assert float(props["test_accuracy"]) == classifier.metadata["test_accuracy"]
    assert float(props["uncertain_threshold"]) == classifier.uncertain_threshold
    assert float(props["temperature"]) == classifier.temperature


def test_onnx_runtime_answers_as_the_classifier_on_the_mnist_test_set(exported, mnist):
    _, _, x_test, y_test = mnist
    inputs = as_inputs(x_test)
    session = onnxruntime.InferenceSession(exported, providers=["CPUExecutionProvider"])
    logits, probabilities = session.run(["logits", "probabilities"], {"input": inputs})
    classifier = Classifier(DEFAULT_WEIGHTS)
    ours = classifier.predict_proba(inputs)
    assert probabilities.shape == ours.shape == (10_000, 10)
    assert np.abs(probabilities - ours).max() <= 1e-5
    np.testing.assert_allclose(logits, classifier.mlp.forward(inputs), rtol=1e-5, atol=1e-4)
    assert np.array_equal(probabilities.argmax(axis=1), classifier.predict(inputs))
    assert (probabilities.argmax(axis=1) == y_test).mean() == classifier.metadata["test_accuracy"]


def test_weights_that_cannot_be_read_fail_in_one_line(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    run = run_module("export", "--weights", bad, "--onnx", tmp_path / "x.onnx")
    assert run.returncode == 1
    assert run.stderr.startswith("error:") and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.onnx").exists()


def test_a_sigmoid_network_exports_with_sigmoid_nodes(tmp_path):
    if onnx is None or onnxruntime is None:
        skip_or_fail("onnx and onnxruntime are needed: pip install -e '.[dev]'")
    weights, path = tmp_path / "sigmoid.npz", tmp_path / "sigmoid.onnx"
    save_weights(weights, MLP((784, 32, 16, 10), seed=4, activation="sigmoid"))
    run = run_module("export", "--weights", weights, "--onnx", path)
    assert run.returncode == 0, run.stderr
    model = onnx.load(path)
    assert [n.op_type for n in model.graph.node].count("Sigmoid") == 2
    assert "Relu" not in [n.op_type for n in model.graph.node]
    inputs = np.random.default_rng(0).random((8, 784), dtype=np.float32)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"input": inputs})
    np.testing.assert_allclose(logits, Classifier(weights).mlp.forward(inputs), rtol=1e-5, atol=1e-5)


def test_a_disk_full_mid_write_leaves_the_old_model_whole(exported, tmp_path):
    """The second export may write only 100 kB of its 430 kB (RLIMIT_FSIZE, with SIGXFSZ ignored,
    fails the write with EFBIG the way a full disk fails it with ENOSPC)."""
    target = tmp_path / "mnist_mlp.onnx"
    target.write_bytes(exported.read_bytes())
    limit = 100_000
    assert target.stat().st_size > 2 * limit

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    run = subprocess.run(
        [console_script("mnist-export"), "--weights", DEFAULT_WEIGHTS, "--onnx", target],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_disk,
    )
    assert run.returncode == 1
    assert run.stderr.startswith(f"error: cannot write {target}: File too large")
    assert len(run.stderr.strip().splitlines()) == 1
    assert target.read_bytes() == exported.read_bytes()
    onnx.checker.check_model(onnx.load(target), full_check=True)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left behind


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--onnx", "{file}/m.onnx"], "argument --onnx: cannot write {file}/m.onnx: {file} is not a folder"),
        (["--onnx", "{folder}"], "argument --onnx: {folder} is a folder, not a file"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    ],
    ids=["onnx under a file", "onnx a folder", "unknown option"],
)
def test_bad_options_stop_in_one_line_before_anything_is_built(args, message, tmp_path):
    assert_usage_error("mnist-export", args, message, tmp_path)
