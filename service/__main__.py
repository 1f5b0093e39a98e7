"""`mnist-serve` (or `python -m mnist_mlp.service`): the production server, gunicorn with our app.

    HOST=127.0.0.1 PORT=8000 WORKERS=2 MODEL_PATH=path/to/weights.npz mnist-serve

The app, and so the weights, are built in the master before any worker is forked
(preloading): a bad weights file stops start-up with one line on stderr and exit
status 2, never a half-working server, and the workers share the loaded pages.
"""

import argparse
import gc
import os
import shutil
import sys
import tempfile
from pathlib import Path

from gunicorn.app.base import BaseApplication

from ..model.version import project_version
from .config import DEFAULTS, StartupError, load_settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
ACCESS_LOG_FORMAT = "%(m)s %(U)s %(s)s %(M)sms rid=%({x-request-id}o)s"


class Server(BaseApplication):
    """gunicorn running an already-built WSGI app with settings given as a dict."""

    def __init__(self, app, options):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def parse_args(argv=None):
    settings = "\n".join(f"  {key:<20} default {value}" for key, value in DEFAULTS.items())
    parser = argparse.ArgumentParser(
        prog="mnist-serve",
        description="Serve the digit classifier's page and API with gunicorn. "
        "It is configured by environment variables:",
        epilog=settings + "\n  PROMETHEUS_MULTIPROC_DIR (default: a private temporary folder)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {project_version()}")
    return parser.parse_args(argv)


def main(argv=None):
    parse_args(argv)
    metrics_dir, owned = None, False
    try:
        settings = load_settings()
        metrics_dir, owned = _metrics_dir()
        from . import create_app  # after the metrics dir is set: see create_app

        app = create_app()
    except StartupError as exc:
        if owned:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The app's tens of thousands of long-lived objects (modules, Flask, NumPy, Pillow,
    # the weights) leave the garbage collector's view before the fork, as the gc docs
    # advise for pre-forking servers: a worker's collections then scan only what its
    # requests allocate, and never write to the pages it shares with the master.
    gc.freeze()
    Server(app, _gunicorn_options(settings, metrics_dir, owned)).run()
    return 0


def _metrics_dir():
    """(folder for prometheus_client's multiprocess files, whether we created it).

    Files of an earlier run would be summed into this run's figures, so a given folder
    is emptied; without one, a private temporary folder is made and removed at exit.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if not given:
        folder = tempfile.mkdtemp(prefix="mnist-metrics-")
        os.environ[MULTIPROC_ENV] = folder
        return folder, True
    folder = Path(given)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
    except OSError as exc:
        raise StartupError(f"{MULTIPROC_ENV}={given}: {exc.strerror}") from None
    return given, False


def _bind(host, port):
    """gunicorn's address: an IPv6 literal goes in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _gunicorn_options(settings, metrics_dir, owned):
    from prometheus_client import multiprocess

    def child_exit(server, worker):
        multiprocess.mark_process_dead(worker.pid)  # drops the dead worker's live gauges

    def on_exit(server):
        if owned:
            shutil.rmtree(metrics_dir, ignore_errors=True)

    options = {
        "bind": _bind(settings["HOST"], settings["PORT"]),
        "workers": settings["WORKERS"],
        "worker_class": "sync",
        "preload_app": True,
        "timeout": 30,
        "graceful_timeout": 5,  # SIGTERM: finish in-flight requests, then go
        "accesslog": "-",  # one line per request on stdout; bodies are never logged
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        # gunicorn's control socket defaults to one path per user: servers side by side would clash.
        "control_socket_disable": True,
        "child_exit": child_exit,
        "on_exit": on_exit,
    }
    if os.path.isdir("/dev/shm"):
        options["worker_tmp_dir"] = "/dev/shm"  # heartbeat files off a possibly slow disk
    return options


if __name__ == "__main__":
    sys.exit(main())
