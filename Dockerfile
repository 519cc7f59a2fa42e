# syntax=docker/dockerfile:1
# The k8ssnap controller image (the `k8ssnap` CLI is in it too).
#   docker build -t k8ssnap:0.1.0 .
#   docker run --rm k8ssnap:0.1.0 --help
#   docker run --rm --entrypoint k8ssnap k8ssnap:0.1.0 --help
# Runs as uid 10001 and needs no writable path but /tmp (see artifacts/deploy.yaml).

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# -- build: a wheel of k8ssnap, and wheels of everything it needs ----------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY k8ssnap ./k8ssnap
RUN pip wheel --wheel-dir /wheels .

# -- runtime: the wheels installed, no compilers, no sources, no pip cache ---------
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The wheels are bind-mounted from the build stage, so none of them stays in a layer.
# pip compiles the bytecode at install time: the root filesystem is read-only at run time.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels k8ssnap \
    && groupadd --system --gid 10001 k8ssnap \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin k8ssnap
# Numeric, so that the kubelet can check runAsNonRoot.
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["k8ssnap-controller"]
