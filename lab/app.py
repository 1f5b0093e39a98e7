"""The lab's Flask app: `create_app(config)` loads MNIST once and serves the page and the API.

    create_app({"DATA_DIR": "../shared/mnist"})      # or {"DATA": LabData(...)}, as the tests do

Without DATA or DATA_DIR the images come from $MNIST_DATA_DIR, else from OpenML.
"""

from pathlib import Path

from flask import Flask

from . import api, dataset, errors, page
from .code import view_code
from .runs import MAX_KEPT, MAX_RUNNING, Runs

DEFAULTS = {
    "MAX_CONTENT_LENGTH": 1024 * 1024,  # a request body: settings, or a drawing of a few kB
    "MAX_PIXELS": 1024 * 1024,  # a drawing's decoded pixels, checked before decoding
    "MAX_RUNNING": MAX_RUNNING,
    "MAX_KEPT": MAX_KEPT,
    "DATA_DIR": None,
    "DATA_HOME": None,
}


def create_app(config=None):
    settings = {**DEFAULTS, **(config or {})}
    data = settings.pop("DATA", None) or dataset.load(settings["DATA_DIR"], settings["DATA_HOME"])
    app = Flask(__name__, instance_path=str(Path(__file__).resolve().parent / "instance"))
    app.config.update(settings)
    app.json.sort_keys = False
    app.extensions["lab_runs"] = Runs(data, settings["MAX_RUNNING"], settings["MAX_KEPT"])
    app.extensions["lab_code"] = view_code()
    errors.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(page.bp)
    return app
