"""The training lab: train the project's own network live, watch it learn, break it, keep the weights.

    mnist-lab --data-dir ../shared/mnist        # then open http://127.0.0.1:8001/

A layer of its own: it imports `model` and `data`, never `service`, and nothing imports it.
The app is built by `mnist_mlp.lab.app.create_app`; this module imports nothing, so that
`mnist-lab` can set the BLAS thread count before NumPy loads (lab/__main__.py).
"""
