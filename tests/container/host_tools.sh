# Host tools for the container and emulation tests: sourced by tests/container/*.sh and tests/aarch64/*.sh.
# Each function installs or starts what it needs and fails with a plain message when it cannot;
# nothing here ever skips.

host_tools_die() { echo "ERROR: $*" >&2; exit 1; }

ensure_apt_packages() {  # ensure_apt_packages CMD:PACKAGE ... (installs PACKAGE when CMD is missing)
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq || host_tools_die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || host_tools_die "apt-get install ${missing[*]} failed"
}

ensure_binfmt_aarch64() {  # aarch64 binaries run through qemu-user (for mmdebstrap --arch=arm64 and arm64 containers)
  ensure_apt_packages qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
      || host_tools_die "cannot mount binfmt_misc: aarch64 emulation is unavailable on this machine"
  fi
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  fi
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] \
    || host_tools_die "qemu-aarch64 is not registered with binfmt_misc: aarch64 emulation is unavailable"
}

ensure_dockerd() {  # a running Docker daemon (Debian's docker.io; started here when it is not running)
  ensure_apt_packages dockerd:docker.io
  if docker info >/dev/null 2>&1; then
    return 0
  fi
  local log=${DOCKERD_LOG:-/tmp/edge-tts-clone-dockerd.log}
  echo "Starting dockerd (log: $log)"
  # setsid: the daemon outlives this script, so later steps (and a re-run) find it running.
  setsid dockerd >"$log" 2>&1 </dev/null &
  local waited=0
  until docker info >/dev/null 2>&1; do
    sleep 1
    waited=$((waited + 1))
    if [ "$waited" -ge 60 ]; then
      tail -n 20 "$log" >&2
      host_tools_die "dockerd did not start within 60 s (log above): the container tests cannot run"
    fi
  done
}
