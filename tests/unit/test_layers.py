"""The layers import only downward: model <- data <- service / scripts / lab, and nothing imports
service or lab. Inside data, each concern imports only the concerns it builds on. The benchmarks
(benchmarks/, beside the package and not installed) may import any layer; nothing in the package
imports them or the tests.

Two checks: every module's import statements (what the code says), and each layer imported
in a fresh interpreter (what actually gets loaded, transitively).
"""

import ast
import json
import pkgutil
import subprocess
import sys

import pytest

import mnist_mlp

LAYERS = ("model", "data", "service", "scripts", "lab")
# What each layer may import from the project; `service`, `scripts` and `lab` sit side by side.
ALLOWED = {
    "model": {"model"},
    "data": {"model", "data"},
    "service": {"model", "data", "service"},
    "scripts": {"model", "data", "scripts"},
    "lab": {"model", "data", "lab"},
}
# data's concerns: MNIST itself and request imaging stand alone, the synthetic data is made
# through the imaging path, the corrections are written out as MNIST's IDX files.
DATA_ALLOWED = {
    "mnist": {"model", "mnist"},
    "imaging": {"model", "imaging"},
    "synth": {"model", "imaging", "synth"},
    "corrections": {"model", "mnist", "corrections"},
}
# In a checkout beside the package, absent where it is installed.
NOT_INSTALLED = ("benchmarks", "tests")
WEB = ("flask", "werkzeug", "granian", "prometheus_client", "jinja2")
# Modules that must load without the web stack (and, for model, without Pillow).
FORBIDDEN_AT_RUN_TIME = {
    "mnist_mlp.model": (*WEB, "PIL", "sklearn", "matplotlib", "mnist_mlp.data", "mnist_mlp.scripts"),
    "mnist_mlp.model.classifier": (*WEB, "PIL", "mnist_mlp.data"),
    "mnist_mlp.data": (*WEB, "mnist_mlp.service", "mnist_mlp.scripts"),
    "mnist_mlp.data.mnist": (*WEB, "PIL", *(f"mnist_mlp.data.{c}" for c in DATA_ALLOWED if c != "mnist")),
    "mnist_mlp.data.imaging": (
        *WEB,
        "mnist_mlp.data.mnist",
        "mnist_mlp.data.synth",
        "mnist_mlp.data.corrections",
    ),
    "mnist_mlp.data.synth": (*WEB, "mnist_mlp.data.mnist", "mnist_mlp.data.corrections"),
    "mnist_mlp.data.corrections": (*WEB, "PIL", "mnist_mlp.data.imaging", "mnist_mlp.data.synth"),
    "mnist_mlp.data.imaging.preprocess": (*WEB, "mnist_mlp.service"),
    "mnist_mlp.data.synth.outliers": (*WEB, "mnist_mlp.service"),
    "mnist_mlp.scripts.train": (*WEB, "mnist_mlp.service"),
    "mnist_mlp.scripts.evaluate": (*WEB, "mnist_mlp.service"),
    "mnist_mlp.scripts.eval_rendered": (*WEB, "mnist_mlp.service"),
    # mnist-predict works with the plain `pip install .`: nothing from the extras either.
    "mnist_mlp.scripts.predict": (*WEB, "mnist_mlp.service", "tqdm", "sklearn", "matplotlib"),
    "mnist_mlp.scripts.export": (*WEB, "mnist_mlp.service", "onnx"),  # onnx only once it exports
    "mnist_mlp.data.imaging.preview": (*WEB, "mnist_mlp.service"),
    # The mnist-serve master supervises the workers and stays small: the workers load the rest.
    "mnist_mlp.service.__main__": (
        *(name for name in WEB if name != "granian"),
        "numpy",
        "PIL",
        "mnist_mlp.model",
        "mnist_mlp.data",
        "mnist_mlp.lab",
    ),
    # SQLite needs nothing installed; psycopg only once a postgresql:// URL is opened.
    "mnist_mlp.data.corrections.store": (*WEB, "mnist_mlp.service", "psycopg"),
    "mnist_mlp.scripts.feedback": (*WEB, "mnist_mlp.service", "psycopg", "tqdm", "sklearn", "matplotlib"),
    # The inference service stays forward-only: the training lab never loads with it.
    "mnist_mlp.service": ("mnist_mlp.lab", "mnist_mlp.model.training"),
    # mnist-lab sets the BLAS thread count before NumPy loads: its entry point must not load NumPy.
    "mnist_mlp.lab": ("numpy", *WEB),
    "mnist_mlp.lab.__main__": ("numpy", *WEB),
    "mnist_mlp.lab.app": ("mnist_mlp.service", "sklearn", "matplotlib"),
}


def project_modules():
    """(layer, module name, source path) of every module of the installed package."""
    for layer in LAYERS:
        package = __import__(f"mnist_mlp.{layer}", fromlist=["_"])
        yield layer, package.__name__, package.__file__
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            spec = info.module_finder.find_spec(info.name)
            yield layer, info.name, spec.origin


def imported_modules(name, path):
    """The absolute names of the modules that module `name` imports, relative imports resolved."""
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join(base + ([node.module] if node.module else [])))
            else:
                found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def imported_layers(name, path, depth=1):
    """The project layers that module `name` imports, absolute or relative; with depth=2, the
    concerns inside a layer (mnist_mlp.data.synth -> "synth"; a layer itself counts by its name)."""
    found = set()
    for target in imported_modules(name, path):
        parts = target.split(".")
        if parts[0] == "mnist_mlp" and len(parts) > 1:
            found.add(parts[depth] if depth == 2 and parts[1] == "data" and len(parts) > 2 else parts[1])
    return found


def test_the_package_is_one_namespace_with_a_package_per_layer():
    assert mnist_mlp.__name__ == "mnist_mlp" and not getattr(mnist_mlp, "__file__", None)
    modules = list(project_modules())
    assert {layer for layer, _, _ in modules} == set(LAYERS)
    assert len(modules) > 20


@pytest.mark.parametrize(("layer", "name", "path"), list(project_modules()), ids=lambda v: str(v))
def test_every_import_points_down(layer, name, path):
    wrong = imported_layers(name, path) - ALLOWED[layer]
    assert not wrong, f"{name} imports mnist_mlp.{sorted(wrong)}, above or beside its layer {layer!r}"


def test_nothing_installed_imports_the_benchmarks_or_the_tests():
    wrong = sorted(
        f"{name} imports {target}"
        for _, name, path in project_modules()
        for target in imported_modules(name, path)
        if target.split(".")[0] in NOT_INSTALLED
    )
    assert not wrong, f"not installed with the package: {wrong}"


DATA_MODULES = [(n, p) for layer, n, p in project_modules() if layer == "data" and n.count(".") >= 3]


def test_data_has_a_package_for_each_concern_and_nothing_else():
    assert {name.split(".")[2] for name, _ in DATA_MODULES} == set(DATA_ALLOWED)
    assert len(DATA_MODULES) > len(DATA_ALLOWED)


@pytest.mark.parametrize(("name", "path"), DATA_MODULES, ids=lambda v: str(v))
def test_every_data_concern_imports_only_those_it_builds_on(name, path):
    concern = name.split(".")[2]
    wrong = imported_layers(name, path, depth=2) - DATA_ALLOWED[concern]
    assert not wrong, f"{name} imports {sorted(wrong)}, beyond what {concern!r} builds on"


@pytest.mark.parametrize("module", sorted(FORBIDDEN_AT_RUN_TIME))
def test_importing_a_layer_in_a_fresh_interpreter_loads_nothing_above_it(module, tmp_path):
    code = (
        "import importlib, json, sys; importlib.import_module(sys.argv[1]); print(json.dumps([*sys.modules]))"
    )
    run = subprocess.run(
        [sys.executable, "-I", "-c", code, module], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    loaded = json.loads(run.stdout)
    assert module in loaded
    leaked = sorted(
        name
        for name in loaded
        for forbidden in FORBIDDEN_AT_RUN_TIME[module]
        if name == forbidden or name.startswith(forbidden + ".")
    )
    assert not leaked, f"importing {module} loads {leaked}"
