#!/usr/bin/env bash
# Builds the server image (the repository's Dockerfile) for amd64 from a Debian bookworm base made
# here with mmdebstrap and `docker import`: no image registry is needed. Starts dockerd when it is
# not running; fails plainly when it cannot. Prints the image's size and the build time.
#   EDGE_TTS_CLONE_IMAGE      tag to build (default edge-tts-clone:test)
#   EDGE_TTS_CLONE_BUILD_DIR  where the base image tarball and build log go (default ~/.cache/edge-tts-clone/container)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/container/host_tools.sh
source "$REPO/tests/container/host_tools.sh"
IMAGE=${EDGE_TTS_CLONE_IMAGE:-edge-tts-clone:test}
BASE=edge-tts-clone-test-base:bookworm
CACHE=${EDGE_TTS_CLONE_BUILD_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-tts-clone/container}
# Only the legacy builder ships with Debian's docker.io (no buildx plugin).
export DOCKER_BUILDKIT=0

ensure_dockerd
ensure_apt_packages mmdebstrap:mmdebstrap
mkdir -p "$CACHE"
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  tarball=$CACHE/base-bookworm-amd64.tar
  if [ ! -f "$tarball" ]; then
    echo "Making the Debian bookworm base image with mmdebstrap"
    # The host's CA bundle, and pip told to use it: pip in the build must trust what this machine trusts.
    nice mmdebstrap --quiet --format=tar --variant=minbase --include=python3,python3-venv,ca-certificates \
      --customize-hook='cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"' \
      bookworm "$tarball.partial" || host_tools_die "mmdebstrap could not make the base image"
    mv "$tarball.partial" "$tarball"
  fi
  docker import --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' --change 'CMD ["/bin/bash"]' \
    "$tarball" "$BASE" >/dev/null || host_tools_die "docker import of the base image failed"
fi

started=$(date +%s)
echo "Building $IMAGE from $BASE"
nice docker build --quiet --network host --build-arg "BUILD_FROM=$BASE" -t "$IMAGE" "$REPO" >/dev/null \
  || host_tools_die "docker build of $IMAGE failed"
size_mb=$(($(docker image inspect --format '{{.Size}}' "$IMAGE") / 1000000))
echo "Built $IMAGE in $(($(date +%s) - started)) s: $size_mb MB"
