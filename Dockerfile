# MNIST digit-classifier service: NumPy MLP behind Flask and granian, shipped weights included.
#
#   docker build -t mnist-mlp-service:0.1.0 .
#   (podman: podman build --format docker ... ; the OCI format would drop the HEALTHCHECK)
#   docker run --init -p 8000:8000 mnist-mlp-service:0.1.0
#   own weights: -v "$PWD/my.npz:/weights/model.npz:ro" -e MODEL_PATH=/weights/model.npz
#
# Two stages: the builder installs the package and its runtime dependencies (numpy, flask,
# pillow, granian, prometheus-client, flask-swagger-ui; no extras) into a venv; the final stage is the slim
# base plus that venv, run as an unprivileged user.

# ---------------------------------------------------------------- builder
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Runtime dependencies first, read from pyproject.toml (the single source of truth), so this
# layer is rebuilt only when pyproject.toml changes, not on every code change. With them the
# `feedback` extra (psycopg), so FEEDBACK_DB may be a postgresql:// URL.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['feedback']))" \
        > /tmp/requirements.txt \
 && pip install --only-binary=:all: -r /tmp/requirements.txt

# The project itself (the context is filtered by .dockerignore to the packages + metadata),
# then drop what serving never uses: pip/setuptools and the wheels' build/test-time parts
# (numpy's f2py, distutils, C headers, test suites and test-only extension modules such as
# _simd; type stubs).
COPY . ./
RUN pip install --no-deps . \
 && pip uninstall -y pip setuptools \
 && SITE="$(python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
 && rm -rf "$SITE/numpy/f2py" "$SITE/numpy/distutils" "$SITE/numpy/_pyinstaller" \
        "$SITE/numpy/_core/include" "$SITE/numpy/_core/lib" /opt/venv/bin/f2py \
 && rm -f "$SITE"/numpy/_core/_simd.*.so "$SITE"/numpy/_core/_*_tests.*.so \
 && find "$SITE/numpy" -depth -type d -name tests -exec rm -rf {} + \
 && find "$SITE" -name '*.pyi' -delete

# ---------------------------------------------------------------- runtime
FROM python:3.11-slim

# The version is pyproject.toml's; tests/deploy/test_deploy.py holds this label, the tags in compose.yaml and
# the Kubernetes manifests to it.
LABEL org.opencontainers.image.title="mnist-mlp-service" \
      org.opencontainers.image.description="Handwritten-digit classifier: a NumPy MLP served by Flask and granian" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="0.1.0"

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

# Same variables as outside the container; MODEL_PATH unset = the weights shipped in the package.
# HOST=0.0.0.0: inside its own network namespace the server must answer the published port.
# HOME=/tmp: the only writable place when the root filesystem is read-only.
# FEEDBACK_DB empty: POST /feedback is off until it names a file on a volume or a postgresql:// URL.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    HOST=0.0.0.0 \
    PORT=8000 \
    WORKERS=2 \
    FEEDBACK_DB=

# An empty, root-owned working directory: nothing here shadows the installed packages.
WORKDIR /app
USER 10001:10001
EXPOSE 8000

# No curl in slim images: the image's own Python asks /healthz (non-2xx or no answer -> exit 1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

# The server's master shuts down gracefully on SIGTERM; run with --init (docker/podman) so a
# PID-1 init forwards signals and reaps processes.
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "mnist_mlp.service"]
