#!/bin/sh
# A base image for Quarry's Dockerfile built from Debian's packages, for machines that reach
# Debian's mirror and PyPI but no image registry. Then:
#   docker build --build-arg BASE=quarry-base:bookworm -t quarry .
# Needs root, debootstrap and a Docker daemon. The machine's own trust store goes into the image:
# a proxy that re-signs TLS for the package registries is trusted by pip inside the build too.
set -eu
TAG=${1:-quarry-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$ROOT" "$MIRROR" >/dev/null
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
cp /etc/ssl/certs/ca-certificates.crt "$ROOT"/etc/ssl/certs/ca-certificates.crt
tar -C "$ROOT" -c . | docker import --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' - "$TAG" >/dev/null
echo "$TAG"
