"""A run's settings: every one optional, each checked against its bounds before anything trains.

    settings = parse_settings({"lr": 0.1, "hidden": [256]}, pool_size=58_000)

`{}` is the model card's network: 784-128-64-10, He init, ReLU, Adam at 1e-3, batches of
128, 10 epochs on 10,000 images (or all there are, if fewer). A setting that is missing
takes its default; one of the wrong type or out of bounds
raises BadSetting, which names the setting, its bounds and what was given. Two limits hold
the settings together: the steps a run takes and the images it sees, so that no run can
keep the machine busy for hours.
"""

import math
from dataclasses import asdict, dataclass

from ..model.contract import CLASSES, INPUTS
from ..model.mlp import ACTIVATIONS, INITS
from ..model.optim import OPTIMIZERS

MAX_HIDDEN_LAYERS = 5
UNITS = (1, 512)  # per hidden layer
LR = (1e-6, 10.0)  # 10 is there to be tried: it diverges
BATCH_SIZE = (1, 1024)
EPOCHS = (1, 200)
MIN_TRAIN_SIZE = 100
SEED = (0, 2**32 - 1)
MAX_STEPS = 100_000  # epochs x ceil(train_size / batch_size): Python's fixed cost per step
MAX_IMAGES = 1_200_000  # epochs x train_size: 20 epochs of the whole training set


class BadSetting(ValueError):
    """A setting outside its bounds: `setting`, `bounds` (JSON-ready) and the message."""

    def __init__(self, setting, bounds, message):
        super().__init__(message)
        self.setting = setting
        self.bounds = bounds


@dataclass(frozen=True)
class RunSettings:
    hidden: tuple = (128, 64)
    init: str = "he"
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 10
    train_size: int = 10_000
    seed: int = 0

    @property
    def layer_sizes(self):
        return (INPUTS, *self.hidden, CLASSES)

    @property
    def steps(self):
        return self.epochs * math.ceil(self.train_size / self.batch_size)

    def to_json(self):
        return {**asdict(self), "hidden": list(self.hidden)}


def bounds(pool_size):
    """Every setting's bounds, as the page and the 400 answers show them."""
    return {
        "hidden": {"layers": [0, MAX_HIDDEN_LAYERS], "units": list(UNITS)},
        "init": {"choices": list(INITS)},
        "activation": {"choices": list(ACTIVATIONS)},
        "optimizer": {"choices": sorted(OPTIMIZERS)},
        "lr": {"min": LR[0], "max": LR[1]},
        "batch_size": {"min": BATCH_SIZE[0], "max": BATCH_SIZE[1]},
        "epochs": {"min": EPOCHS[0], "max": EPOCHS[1]},
        "train_size": {"min": min(MIN_TRAIN_SIZE, pool_size), "max": pool_size},
        "seed": {"min": SEED[0], "max": SEED[1]},
        "steps": {"max": MAX_STEPS},
        "images": {"max": MAX_IMAGES},
    }


def parse_settings(given, pool_size):
    """RunSettings from a JSON object; BadSetting for the first setting that is wrong."""
    limits = bounds(pool_size)
    if not isinstance(given, dict):
        raise BadSetting("settings", None, "the settings must be a JSON object")
    unknown = sorted(set(given) - set(RunSettings.__dataclass_fields__))
    if unknown:
        known = ", ".join(RunSettings.__dataclass_fields__)
        raise BadSetting(unknown[0], None, f"unknown setting {unknown[0]!r}; the settings are {known}")
    values = {"train_size": min(RunSettings.train_size, pool_size)}
    for name, value in given.items():
        if name == "hidden":
            values[name] = _hidden(value, limits[name])
        elif "choices" in limits[name]:
            values[name] = _choice(name, value, limits[name])
        else:
            values[name] = _number(name, value, limits[name], float if name == "lr" else int)
    settings = RunSettings(**values)
    if settings.steps > MAX_STEPS:
        raise BadSetting(
            "steps",
            limits["steps"],
            f"epochs x ceil(train_size / batch_size) is {settings.steps} steps; a run may take at most "
            f"{MAX_STEPS}: fewer epochs, fewer images or larger batches",
        )
    images = settings.epochs * settings.train_size
    if images > MAX_IMAGES:
        raise BadSetting(
            "images",
            limits["images"],
            f"epochs x train_size is {images} images; a run may see at most {MAX_IMAGES}: "
            "fewer epochs or fewer images",
        )
    return settings


def _number(name, value, limit, kind):
    low, high = limit["min"], limit["max"]
    types = int if kind is int else int | float
    ok = isinstance(value, types) and not isinstance(value, bool) and low <= value <= high  # NaN fails too
    if not ok:
        what = "an integer" if kind is int else "a number"
        raise BadSetting(name, limit, f"{name} must be {what} from {low:g} to {high:g}, got {value!r}")
    return kind(value)


def _choice(name, value, limit):
    if not isinstance(value, str) or value not in limit["choices"]:
        choices = ", ".join(limit["choices"])
        raise BadSetting(name, limit, f"{name} must be one of {choices}, got {value!r}")
    return value


def _hidden(value, limit):
    layers, (low, high) = limit["layers"], limit["units"]
    if (
        not isinstance(value, list)
        or len(value) > layers[1]
        or not all(isinstance(n, int) and not isinstance(n, bool) and low <= n <= high for n in value)
    ):
        raise BadSetting(
            "hidden",
            limit,
            f"hidden must be a list of {layers[0]} to {layers[1]} layer sizes, each an integer from "
            f"{low} to {high}, got {value!r}",
        )
    return tuple(value)
