"""The benchmarks: speed, memory and accuracy figures against their targets, run from a checkout
as `python -m benchmarks.NAME` (see README.md here). Not installed: nothing in mnist_mlp imports them."""
