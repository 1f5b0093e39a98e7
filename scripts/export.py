"""Export the weights as an ONNX model, for ONNX Runtime, Triton, KServe or the browser.

    mnist-export --weights model/weights/mnist_mlp.npz --onnx runs/mnist_mlp.onnx

The graph is built with the `onnx` package's helpers alone (pip install
'mnist-mlp-service[export]'): Gemm and Relu (or Sigmoid) per layer, then the calibrated softmax.
Input `input`: float32 [N, 784] in [0, 1], MNIST pixels / 255, white digit on black,
row-major (what `preprocess` returns). Outputs `logits` [N, 10] and `probabilities`
[N, 10], softmax(logits / T) with the weights' temperature T. The metadata properties
carry the opset, the sha256 of the .npz, its test accuracy, temperature and the
"uncertain" threshold (a prediction is uncertain when its top probability is below it).
"""

from pathlib import Path

import numpy as np

from ..model import DEFAULT_WEIGHTS, Classifier, WeightsError
from ..model.atomic_file import write_atomically
from ..model.contract import CLASSES, INPUT_MEANING, INPUTS
from ..model.version import project_version
from .cli import fail, parser, require, writable_file

PROG = "mnist-export"
# Opset 17 and IR version 8 (the IR of that opset) load in every ONNX Runtime since 1.13 and in
# Triton's onnxruntime backend; nothing newer is needed for Gemm, Relu, Sigmoid, Div and Softmax.
OPSET = 17
IR_VERSION = 8
ONNX_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid"}  # the MLP's hidden activation -> ONNX op


def parse_args(argv=None):
    cli = parser(PROG, __doc__)
    cli.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="weights file (.npz)")
    cli.add_argument(
        "--onnx",
        type=writable_file,
        default="runs/mnist_mlp.onnx",
        metavar="OUT.onnx",
        help="ONNX file to write",
    )
    return cli.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    require(PROG, "onnx", extra="export")
    import onnx

    try:
        classifier = Classifier(args.weights)
    except WeightsError as exc:
        fail(exc)
    model = onnx_model(classifier)
    onnx.checker.check_model(model, full_check=True)
    try:
        write_atomically(args.onnx, model.SerializeToString())  # a full disk leaves the old file whole
    except OSError as exc:
        fail(f"cannot write {args.onnx}: {exc.strerror or exc}")
    print(f"wrote {args.onnx}: {' -> '.join(map(str, classifier.layer_sizes))}, opset {OPSET}")
    return 0


def onnx_model(classifier):
    """The onnx.ModelProto computing `classifier`'s logits and calibrated probabilities."""
    from onnx import TensorProto, helper, numpy_helper

    mlp = classifier.mlp
    nodes, initializers, previous = [], [], "input"
    for layer, (w, b) in enumerate(zip(mlp.weights, mlp.biases)):
        initializers += [numpy_helper.from_array(w, f"W{layer}"), numpy_helper.from_array(b, f"b{layer}")]
        last = layer == mlp.n_layers - 1
        linear = "logits" if last else f"linear{layer}"
        nodes.append(helper.make_node("Gemm", [previous, f"W{layer}", f"b{layer}"], [linear]))
        if not last:
            previous = f"hidden{layer}"
            nodes.append(helper.make_node(ONNX_ACTIVATIONS[mlp.activation], [linear], [previous]))
    initializers.append(numpy_helper.from_array(np.array(classifier.temperature, np.float32), "temperature"))
    nodes += [
        helper.make_node("Div", ["logits", "temperature"], ["scaled_logits"]),
        helper.make_node("Softmax", ["scaled_logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "mnist_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", INPUTS])],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", CLASSES]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", CLASSES]),
        ],
        initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="mnist-mlp-service",
        producer_version=project_version(),
        doc_string=f"input: {INPUT_MEANING}; probabilities: softmax(logits / temperature)",
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, metadata(classifier))
    return model


def metadata(classifier):
    """The ONNX metadata properties (strings) describing the exported weights."""
    return {
        "opset": str(OPSET),
        "model_id": classifier.model_id,
        "weights_sha256": classifier.sha256,
        "test_accuracy": str(classifier.metadata.get("test_accuracy", "unknown")),
        "temperature": repr(float(classifier.temperature)),
        "uncertain_threshold": repr(float(classifier.uncertain_threshold)),
        "uncertain_rule": "uncertain when max(probabilities) < uncertain_threshold",
        "input": INPUT_MEANING,
        "layer_sizes": ",".join(map(str, classifier.layer_sizes)),
    }


if __name__ == "__main__":
    raise SystemExit(main())
