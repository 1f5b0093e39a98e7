"""One contender of bench_train, alive for the whole run and trained one epoch at a time on request.

    python -m benchmarks.train_contenders NAME --data MNIST.npz [--batch-size 128] [--lr 1e-3] [--threads 1]

bench_train starts one of these per contender and speaks lines over stdin/stdout:

    (child)  ready                              data loaded, network built
    epoch    {"wall": s, "cpu": s}              one epoch on the 60,000 training images
    done     {"accuracy": a or null, "peak_mb": m}   test accuracy, peak RSS; then the child exits

The BLAS / OpenMP pool size is set in the environment before NumPy (or PyTorch) is imported, so
`--threads` holds for every contender alike. Only NumPy is needed besides the contender's own
library: the `torch` contender runs under another interpreter (bench_train --torch-python) that
has PyTorch but not this project, so bench_train reads MNIST once and hands every contender the
same arrays in an .npz (x, y, x_test, y_test: uint8 images (N, 784), int64 labels).
"""

import argparse
import json
import os
import resource
import sys
import time

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
HIDDEN = (128, 64)


def load(path):
    """(x, y, x_test, y_test) from the .npz bench_train wrote."""
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        return data["x"], data["y"], data["x_test"], data["y_test"]


class Ours:
    """Our fit, one epoch per call: model/training.py's loop as `fit` runs it (no validation)."""

    def __init__(self, x, y, args, augment=False):
        from mnist_mlp.model import MLP
        from mnist_mlp.model.training import TrainConfig, _Run

        self.x, self.y = x, y
        self.model = MLP((x.shape[1], *HIDDEN, 10), seed=0)
        config = TrainConfig(epochs=1000, batch_size=args.batch_size, lr=args.lr, schedule="constant")
        self.run = _Run(self.model, len(x), config)  # fit's per-run state; fit adds only validation
        self.augment = None
        if augment:
            from mnist_mlp.data.synth.augment import Augmenter

            self.augment = Augmenter()

    def epoch(self):
        record = self.run.epoch(self.x, self.y, self.augment, None)
        if "diverged" in record:  # the epoch stopped at the first non-finite loss: its time is no epoch's
            raise RuntimeError(f"training diverged: {record['diverged']} (--lr {self.run.config.lr:g})")

    def accuracy(self, x_test, y_test):
        from mnist_mlp.model.training import evaluate

        return evaluate(self.model, x_test, y_test)[1]


class GemmFloor:
    """The eight float32 GEMMs of each training step alone, np.matmul into buffers allocated once:

    forward   a1 = x @ W1, a2 = a1 @ W2, z = a2 @ W3                          (3 GEMMs)
    backward  dW3 = a2.T @ dz, da2 = dz @ W3.T, dW2 = a1.T @ da2,
              da1 = da2 @ W2.T, dW1 = x.T @ da1                                (5 GEMMs)

    No gather (batches are contiguous slices), bias, ReLU, loss or update, and a fixed dz: no
    training loop can be faster on this machine. Nothing learns, so no accuracy.
    """

    def __init__(self, x, y, args):
        import numpy as np

        sizes = (x.shape[1], *HIDDEN, 10)
        self.shapes = list(zip(sizes[:-1], sizes[1:]))  # (784, 128), (128, 64), (64, 10)
        rng = np.random.default_rng(0)
        self.weights = [(rng.standard_normal(s) * np.sqrt(2 / s[0])).astype(np.float32) for s in self.shapes]
        self.inputs = x.astype(np.float32)
        self.inputs *= 1 / 255
        self.starts = range(0, len(x), args.batch_size)
        self.batch_size = args.batch_size
        sizes = {len(self.inputs[s : s + args.batch_size]) for s in self.starts}
        self.buffers = {size: self.buffers_for(size, rng) for size in sizes}

    def buffers_for(self, batch, rng):
        """(outputs, output gradients, weight gradients) of each layer; the last output gradient
        stands for the loss's."""
        import numpy as np

        outputs = [np.empty((batch, n_out), np.float32) for _, n_out in self.shapes]
        deltas = [np.empty_like(out) for out in outputs]
        deltas[-1][:] = rng.standard_normal(deltas[-1].shape) * 0.1
        grads = [np.empty(shape, np.float32) for shape in self.shapes]
        return outputs, deltas, grads

    def epoch(self):
        import numpy as np

        for start in self.starts:
            batch = self.inputs[start : start + self.batch_size]
            outputs, deltas, grads = self.buffers[len(batch)]
            layer_inputs = [batch, *outputs[:-1]]
            for a, w, out in zip(layer_inputs, self.weights, outputs):
                np.matmul(a, w, out=out)
            for i in reversed(range(len(self.weights))):
                np.matmul(layer_inputs[i].T, deltas[i], out=grads[i])
                if i:
                    np.matmul(deltas[i], self.weights[i].T, out=deltas[i - 1])

    def accuracy(self, x_test, y_test):
        return None


class Torch:
    """PyTorch CPU: the same network, nn.Linear + ReLU, torch.optim.Adam, the same per-batch uint8
    -> [0, 1] scaling, a new torch.randperm order every epoch."""

    def __init__(self, x, y, args):
        import torch

        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        sizes = (x.shape[1], *HIDDEN, 10)
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        self.net = torch.nn.Sequential(*layers[:-1])
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=args.lr)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.xs, self.ys = torch.from_numpy(x), torch.from_numpy(y)
        self.generator = torch.Generator().manual_seed(0)
        self.batch_size = args.batch_size

    def epoch(self):
        import torch

        order = torch.randperm(len(self.xs), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.xs[idx].float().div_(255)
            self.optimizer.zero_grad(set_to_none=True)
            self.loss_fn(self.net(batch), self.ys[idx]).backward()
            self.optimizer.step()

    def accuracy(self, x_test, y_test):
        import torch

        with torch.no_grad():
            predicted = self.net(torch.from_numpy(x_test).float() / 255).argmax(1).numpy()
        return float((predicted == y_test).mean())


CONTENDERS = {
    "numpy": Ours,
    "numpy-augmented": lambda x, y, args: Ours(x, y, args, augment=True),
    "gemm-floor": GemmFloor,
    "torch": Torch,
    "numpy-baseline": Ours,  # the same, run by bench_train --baseline-python: another checkout's mnist_mlp
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=list(CONTENDERS))
    parser.add_argument("--data", required=True, help="the .npz of MNIST arrays bench_train wrote")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args(argv)


def serve(contender, x_test, y_test, stdin=sys.stdin, stdout=sys.stdout):
    """Answer the parent's commands until `done` (or the end of stdin)."""
    print("ready", file=stdout, flush=True)
    for line in stdin:
        command = line.strip()
        if command == "epoch":
            wall, cpu = time.perf_counter(), time.process_time()
            contender.epoch()
            figures = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
        elif command == "done":
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
            figures = {"accuracy": contender.accuracy(x_test, y_test), "peak_mb": peak_mb}
        else:
            figures = {"error": f"unknown command {command!r}"}
        print(json.dumps(figures), file=stdout, flush=True)
        if command == "done":
            return


def main(argv=None):
    args = parse_args(argv)
    for variable in THREAD_VARIABLES:  # before NumPy or PyTorch starts its thread pool
        os.environ[variable] = str(args.threads)
    x, y, x_test, y_test = load(args.data)
    serve(CONTENDERS[args.name](x, y, args), x_test, y_test)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
