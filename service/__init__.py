"""The MNIST digit-classifier web service.

    flask --app mnist_mlp.service run    # development server
    mnist-serve                          # production: granian, $HOST, $PORT, $WORKERS, $MODEL_PATH

The app is built by `create_app` (service/app.py), imported when called: the `mnist-serve`
master imports this package and stays small (no NumPy, Pillow or Flask).
"""

from .config import StartupError

__all__ = ["StartupError", "create_app"]


def create_app(config=None, classifier=None, feedback_access="create"):
    """The Flask app (service/app.py); settings from the environment, overridden by `config`."""
    from .app import create_app as build

    return build(config, classifier, feedback_access)
