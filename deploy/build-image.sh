#!/usr/bin/env bash
# Builds the project's image (deploy/Dockerfile) and prints its name, taxi-pipeline:<content>.
#   deploy/build-image.sh [BASE_IMAGE]      (default python:3.11-slim-bookworm)
#   deploy/build-image.sh --wheels-only     (only the download below; needs no Docker engine)
# The tag is a hash of everything that goes into the image (the Dockerfile, the package pins,
# the project's code and instance files, the base image): an image already built from the same
# content is reused at once. The pinned packages are downloaded here, on the host, as Linux
# x86_64 wheels for CPython 3.11 (whatever the host is), into deploy/build/, once for the same
# pins; the image build then installs from those files only. Also tagged taxi-pipeline:latest.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_IMAGE=${1:-python:3.11-slim-bookworm}
PYTHON=${PYTHON:-python3}
ARCH=${TAXI_IMAGE_ARCH:-x86_64}
# pip takes --platform literally: name every glibc up to bookworm's 2.36 that a wheel may target.
platforms=(--platform "manylinux1_$ARCH" --platform "manylinux2010_$ARCH" --platform "manylinux2014_$ARCH")
for glibc in $(seq 5 36); do platforms+=(--platform "manylinux_2_${glibc}_$ARCH"); done

inputs=$(find deploy/Dockerfile .dockerignore setup.py pyproject.toml deploy/docker taxi_pipeline \
  -type f -not -path '*/__pycache__/*' | LC_ALL=C sort)
content=$({ echo "$ARCH"; sha256sum $inputs; } | sha256sum | cut -c1-12)

# The pins alone decide the third-party wheels: a code change rebuilds only the project's wheel.
pins=$({ echo "$ARCH"; sha256sum setup.py pyproject.toml; } | sha256sum | cut -c1-12)

download_wheels() {  # into deploy/build/: the project's wheel, and the pinned packages once per pins
  if [ "$(cat deploy/build/pins 2>/dev/null)" != "$pins" ]; then rm -rf deploy/build; fi
  rm -rf deploy/build/project && mkdir -p deploy/build/wheels deploy/build/project
  "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir deploy/build/project .
  if [ "$(cat deploy/build/pins 2>/dev/null)" = "$pins" ]; then return; fi
  project_wheel=$(ls deploy/build/project/*.whl)
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --dest deploy/build/wheels \
    --only-binary=:all: --implementation cp --python-version 3.11 \
    "${platforms[@]}" \
    "taxi_pipeline[deploy] @ file://$PWD/$project_wheel"
  rm -f deploy/build/wheels/taxi_pipeline-*.whl
  echo "$pins" > deploy/build/pins
  echo "wheels: $(ls deploy/build/wheels | wc -l) files, $(du -sh deploy/build/wheels | cut -f1)" >&2
}

if [ "$BASE_IMAGE" = --wheels-only ]; then
  download_wheels
  exit
fi
base_id=$(docker image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || echo "$BASE_IMAGE")
image=taxi-pipeline:$(echo "$base_id $content" | sha256sum | cut -c1-12)

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image is built from this content already" >&2
else
  started=$(date +%s)
  download_wheels
  docker build --quiet --build-arg "BASE_IMAGE=$BASE_IMAGE" -f deploy/Dockerfile -t "$image" . >&2
  echo "built $image from $BASE_IMAGE in $(($(date +%s) - started)) s," \
    "$(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}')" >&2
fi
docker tag "$image" taxi-pipeline:latest
echo "$image"
