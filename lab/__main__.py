"""`mnist-lab` (or `python -m mnist_mlp.lab`): the training lab's page and API, on HOST:PORT.

    HOST=127.0.0.1 PORT=8001 mnist-lab [--data-dir DIR]

MNIST is loaded once, before the lab listens: from --data-dir, else $MNIST_DATA_DIR, else
OpenML (scikit-learn, the `train` extra). A folder or an address that cannot work stops
start-up with one line on stderr and exit status 2. Runs train on threads of this one
process, and nothing is written to disk: a run's weights exist as a file only when the page
downloads them.

There is no authentication: anyone who reaches the address can start and stop runs, so the
default is loopback, and HOST=0.0.0.0 is for a machine and network you trust.

BLAS: each run's matrix products use one thread (OPENBLAS_NUM_THREADS=1 and its kin, unless
set already), as two runs may train at once on a two-core machine. A second BLAS thread per
run would oversubscribe the cores, and gains little on products this small.
"""

import argparse
import os
import sys

BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
DEFAULT_HOST = "127.0.0.1"  # loopback unless told otherwise
DEFAULT_PORT = 8001  # beside mnist-serve's 8000, so both can run at once


class StartupError(RuntimeError):
    """The lab cannot start; the message is one line saying why."""


def parse_args(argv=None):
    from ..model.version import project_version  # loads NumPy: called after the BLAS variables are set

    parser = argparse.ArgumentParser(
        prog="mnist-lab",
        description="Train the MNIST MLP live in the browser: curves, gradients, weights, a drawing box.",
        epilog=f"environment variables: HOST (default {DEFAULT_HOST}), PORT (default {DEFAULT_PORT})",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {project_version()}")
    parser.add_argument(
        "--data-dir", help="folder with the four MNIST IDX files (default: $MNIST_DATA_DIR, else OpenML)"
    )
    parser.add_argument("--data-home", help="scikit-learn's cache folder for the OpenML download")
    return parser.parse_args(argv)


def address(environ):
    """(host, port) from HOST and PORT; StartupError for a port that is not one."""
    host = environ.get("HOST") or DEFAULT_HOST
    port = environ.get("PORT") or str(DEFAULT_PORT)
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise StartupError(f"PORT must be an integer from 1 to 65535, got {port!r}")
    return host, int(port)


def main(argv=None):
    for variable in BLAS_THREADS:
        os.environ.setdefault(variable, "1")
    args = parse_args(argv)
    try:
        host, port = address(os.environ)
        server = _server(host, port, args)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"mnist-lab: http://{host}:{port}/ (Ctrl+C stops it)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _server(host, port, args):
    # NumPy and Flask load here, after the BLAS variables are set
    from ..data import DataUnavailable, IDXError
    from .app import create_app
    from .serving import make_server

    try:
        server = make_server(host, port)  # bound first: a taken port fails before the data load
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        server.app = create_app({"DATA_DIR": args.data_dir, "DATA_HOME": args.data_home})
    except (DataUnavailable, IDXError) as exc:
        server.server_close()
        raise StartupError(exc) from None
    return server


if __name__ == "__main__":
    sys.exit(main())
