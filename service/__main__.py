"""`mnist-serve` (or `python -m mnist_mlp.service`): the production server, granian with our app.

    HOST=127.0.0.1 PORT=8000 WORKERS=2 MODEL_PATH=path/to/weights.npz mnist-serve [granian options]

Start-up, in the master: the settings are checked, the app is built once in a short-lived
child process (a weights file or setting that cannot work stops start-up here, with one
line on stderr and exit status 2, before anything listens), and the address is tried. Then
the master makes the memory it shares with its workers (service/shared.py) and granian forks
the workers, each of which loads the weights and builds the app (service/worker.py:serve)
behind granian's Rust HTTP core. SIGHUP to the master makes every worker load MODEL_PATH
again in place. The master itself never imports NumPy, Pillow or Flask, so it stays small.

Options after the settings are granian's own (`mnist-serve --server-help` lists them) and
override ours; so do GRANIAN_* environment variables.
"""

import argparse
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path

from . import shared
from .config import DEFAULTS, StartupError, graceful_timeout, load_settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
FEEDBACK_SECRET_ENV = "FEEDBACK_SECRET"
APP_FACTORY = "mnist_mlp.service.worker:serve"


def parse_args(argv=None):
    settings = "\n".join(f"  {key:<20} default {value!r}" for key, value in DEFAULTS.items())
    parser = argparse.ArgumentParser(
        prog="mnist-serve",
        description="Serve the digit classifier's page and API with granian. "
        "Configured by environment variables; any other options are passed to granian.",
        epilog=f"environment variables:\n{settings}\n  {MULTIPROC_ENV:<20} default: a private temp folder",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="show the version and exit")
    parser.add_argument("--server-help", action="store_true", help="list granian's own options")
    return parser.parse_known_args(argv)


def main(argv=None):
    args, server_options = parse_args(argv)
    # From the start: a SIGHUP before the reload thread runs waits for it instead of ending the server.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    if args.version:
        from ..model.version import project_version  # only here: the model package loads NumPy

        print(f"mnist-serve {project_version()}")
        return 0
    if args.server_help:
        return _granian(["--help"])
    scratch = []  # folders this run made, removed however it ends
    try:
        settings = load_settings()
        # One key for every worker: a client then has one name, its one rate-limit bucket per worker
        os.environ.setdefault(FEEDBACK_SECRET_ENV, secrets.token_hex(32))
        _check_app()
        _check_address(settings["HOST"], settings["PORT"])
        print(f"feedback: {_feedback(settings['FEEDBACK_DB'])}", file=sys.stderr)
        options = _options(settings)
        if _metrics_dir():
            scratch.append(os.environ[MULTIPROC_ENV])
        # The workers get the shared memory, like the blocked SIGHUP, by being forked from this
        # process: granian's other way, spawning fresh interpreters, would give them neither.
        multiprocessing.set_start_method("fork", force=True)
        _reload_on_sighup(shared.share())
        if settings["LOG_FORMAT"] == "json":
            scratch.append(tempfile.mkdtemp(prefix="mnist-serve-"))
            options += ["--log-config", str(_json_log_config(Path(scratch[-1])))]
        return _granian(options + server_options)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for folder in scratch:
            shutil.rmtree(folder, ignore_errors=True)


def _options(settings):
    """granian's command line for our app and settings."""
    return [
        "--interface", "rsgi",
        "--http", "1",
        "--no-ws",
        "--host", settings["HOST"],
        "--port", str(settings["PORT"]),
        "--workers", str(settings["WORKERS"]),
        "--http1-header-read-timeout", str(round(settings["HEADER_TIMEOUT"] * 1000)),
        "--respawn-failed-workers",
        "--respawn-interval", "0.5",
        # SIGTERM: the workers stop accepting and finish what they accepted, up to the
        # longest request the body timeout and the request budget allow
        "--workers-kill-timeout", str(max(1, round(graceful_timeout(settings)))),
        "--no-access-log",  # the edge writes its own, escaped
        "--factory",
        APP_FACTORY,
    ]  # fmt: skip


def _reload_on_sighup(memory):
    """SIGHUP asks the workers to reload their weights in place (service/worker.py).

    main() blocks SIGHUP, in its thread and so in every thread and worker started after it,
    and this thread takes it with sigwait: granian's own SIGHUP handler, which would replace
    the workers, is installed but never runs.
    """

    def take():
        while True:
            signal.sigwait({signal.SIGHUP})
            memory.request_reload()

    threading.Thread(target=take, name="sighup", daemon=True).start()


def _json_log_config(folder):
    """A logging dictConfig file for granian's own lines, as JSON objects like ours, on stderr."""
    fields = {"time": "asctime", "event": None, "level": "levelname", "logger": "name", "message": "message"}
    line = json.dumps({k: f"%({v})s" if v else "log" for k, v in fields.items()})
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"format": line}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "loggers": {"granian": {"handlers": ["stderr"], "level": "INFO", "propagate": False}},
    }
    path = folder / "granian-logging.json"
    path.write_text(json.dumps(config))
    return path


def _granian(argv):
    from granian.cli import cli

    try:
        cli.main(args=argv, prog_name="mnist-serve", auto_envvar_prefix="GRANIAN", standalone_mode=False)
    except SystemExit as exc:
        return exc.code or 0
    except Exception as exc:  # click's usage errors, granian's fatal start-up errors
        raise StartupError(f"the server could not start: {exc}") from None
    return 0


def _check_app():
    """Build the app once in a child process; StartupError with its one-line reason if it cannot be.

    The child pays NumPy, Flask and the weights; the master, which only supervises, does not.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave, never return into the caller
        os.close(read_end)
        status, message = 0, b""
        try:
            # prometheus_client turns to multiprocess files when the variable merely exists,
            # even empty: this short-lived check must leave none behind
            os.environ.pop(MULTIPROC_ENV, None)
            from .worker import check_start_up

            check_start_up()
        except StartupError as exc:
            status, message = 2, str(exc).encode()
        except BaseException as exc:
            status, message = 1, f"{type(exc).__name__}: {exc}".encode()
        os.write(write_end, message)
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise StartupError(message or f"the app could not be built (child status {status})")


def _feedback(target):
    """Whether users' corrections are stored, and where, in words."""
    if not target:
        return "off (set FEEDBACK_DB to a SQLite file or a postgresql:// URL to store users' corrections)"
    if "://" in target:
        return "stored in the PostgreSQL database FEEDBACK_DB names"  # the URL may hold a password
    return f"stored in {target}"


def _check_address(host, port):
    """StartupError in one line when the address cannot be listened on (in use, not ours, bad name)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _metrics_dir():
    """Set up the folder for prometheus_client's multiprocess files; True if this run made it.

    Files of an earlier run would be summed into this run's figures, so a given folder
    is emptied; without one, a private temporary folder is made, removed at exit.
    The workers inherit the variable, and prometheus_client reads it when first imported.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if not given:
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="mnist-metrics-")
        return True
    folder = Path(given)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
    except OSError as exc:
        raise StartupError(f"{MULTIPROC_ENV}={given}: {exc.strerror}") from None
    return False


if __name__ == "__main__":
    sys.exit(main())
