#!/usr/bin/env bash
# Prepare what the real `sam local invoke` needs on a machine with podman and no Docker engine, for this project's
# functions against the embedded emulator (`ecr-governance emulator --seed`). Idempotent; `make sam-local` runs it.
#
#   scripts/sam_local.sh           prepare, then print the DOCKER_HOST line and an example command
#   scripts/sam_local.sh check     exit 0 if podman can run containers here, else 1 with one line saying why
#   scripts/sam_local.sh stop      stop the podman socket this script started
#
# What it prepares, under .local/sam-local/ (git-ignored) and in podman's image store:
#   1. containers.conf: runtime runc, cgroupfs, no default ulimits (podman's default crun fails on this machine kind)
#   2. podman's Docker-compatible API on a unix socket (`podman system service`): SAM's DOCKER_HOST
#   3. a Debian trixie python3.13 base (debootstrap, about 70 s, once), and on it a stand-in for
#      public.ecr.aws/lambda/python:3.13-<arch>: a venv at /var/lang with awslambdaric (wheels pip downloads on the
#      host, with this machine's package index), /var/runtime/bootstrap running `python -m awslambdaric $_HANDLER`.
#      It has its own name, passed as --invoke-image, so it never shadows the real image; SAM builds its
#      `...:rapid-<arch>` image on top (deleted here whenever the stand-in is rebuilt, or SAM would keep the old one)
#   4. `sam build` of template.yaml for this machine's architecture (Architecture=x86_64 on x86_64: arm64 would need
#      CPU emulation), and env.json + samconfig.toml for the seeded emulator (python -m ecr_governance_cli.sam_local)
# SAM creates its containers on podman's default bridge network (its `--docker-network host` only skips connecting
# them to another one): a function reaches the emulator at host.containers.internal, so the emulator must listen
# beyond loopback (`ecr-governance emulator --seed --host 0.0.0.0`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${ROOT}/.local/sam-local"
VENV="${ROOT}/.venv/bin"
SOCKET="${STATE}/podman.sock"
export CONTAINERS_CONF="${STATE}/containers.conf"
case "$(uname -m)" in
  x86_64) ARCH=x86_64; PIP_PLATFORM=manylinux2014_x86_64 ;;
  aarch64 | arm64) ARCH=arm64; PIP_PLATFORM=manylinux2014_aarch64 ;;
  *) echo "sam_local.sh: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
BASE_IMAGE="localhost/ecr-governance/debian-python:3.13"
LAMBDA_REPOSITORY="localhost/ecr-governance/lambda-python"
LAMBDA_IMAGE="${LAMBDA_REPOSITORY}:3.13-${ARCH}"
AWSLAMBDARIC="$(grep -E '^awslambdaric==' "${ROOT}/requirements-dev.txt")"
PORT="$(sed -E 's#^.*:([0-9]+)/?$#\1#' <<<"${ECR_GOVERNANCE_LOCAL_ENDPOINT:-http://127.0.0.1:5000}")"
ENDPOINT="http://host.containers.internal:${PORT}"  # the emulator, as a function's container sees it

die() { echo "sam_local.sh: $*" >&2; exit 1; }
step() { echo "sam_local.sh: $*" >&2; }

check() {
  for tool in podman buildah runc debootstrap; do
    command -v "${tool}" >/dev/null 2>&1 || die "'${tool}' is not installed (Debian: apt-get install ${tool})"
  done
  [[ "$(id -u)" == 0 ]] || die "podman's runc runtime and debootstrap need root here"
  write_containers_conf
  podman info >/dev/null 2>&1 || die "podman cannot run here: $(podman info 2>&1 | tail -n 1)"
}

write_containers_conf() {
  mkdir -p "${STATE}"
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n' \
    >"${CONTAINERS_CONF}"
}

start_socket() {
  if [[ -S "${SOCKET}" ]] && podman --url "unix://${SOCKET}" version >/dev/null 2>&1; then
    return
  fi
  rm -f "${SOCKET}"
  podman system service --time=0 "unix://${SOCKET}" >"${STATE}/podman-service.log" 2>&1 &
  echo $! >"${STATE}/podman-service.pid"
  for _ in $(seq 50); do
    podman --url "unix://${SOCKET}" version >/dev/null 2>&1 && return
    sleep 0.2
  done
  die "podman system service did not answer on ${SOCKET} (see ${STATE}/podman-service.log)"
}

stop_socket() {
  if [[ -f "${STATE}/podman-service.pid" ]]; then
    kill "$(cat "${STATE}/podman-service.pid")" 2>/dev/null || true
    rm -f "${STATE}/podman-service.pid" "${SOCKET}"
  fi
}

build_base() {
  podman image exists "${BASE_IMAGE}" && return
  step "debootstrap of a Debian trixie python3.13 base (about 70 s, once)..."
  local rootfs="${STATE}/rootfs"
  rm -rf "${rootfs}"
  debootstrap --variant=minbase --include=python3.13,python3.13-venv,ca-certificates trixie "${rootfs}" \
    >"${STATE}/debootstrap.log" 2>&1 || die "debootstrap failed (see ${STATE}/debootstrap.log)"
  ln -sf /usr/bin/python3.13 "${rootfs}/usr/local/bin/python3"
  ln -sf /usr/bin/python3.13 "${rootfs}/usr/local/bin/python"
  tar -C "${rootfs}" -c . | podman import - "${BASE_IMAGE}" >>"${STATE}/debootstrap.log" 2>&1
  rm -rf "${rootfs}"
}

build_lambda_image() {
  podman image exists "${LAMBDA_IMAGE}" && return
  step "building ${LAMBDA_IMAGE} (${AWSLAMBDARIC} on the base)..."
  local wheels="${STATE}/wheels" container
  rm -rf "${wheels}"
  "${VENV}/pip" download --quiet --only-binary=:all: --platform "${PIP_PLATFORM}" --python-version 3.13 \
    --implementation cp -d "${wheels}" "${AWSLAMBDARIC}" -c "${ROOT}/requirements-dev.txt" 2>/dev/null \
    || die "pip download ${AWSLAMBDARIC} failed"
  container="$(buildah from "${BASE_IMAGE}")"
  buildah copy "${container}" "${wheels}" /tmp/wheels >/dev/null
  # shellcheck disable=SC2016 # expanded inside the container, by its shell
  buildah run --isolation chroot "${container}" -- sh -c \
    'python3.13 -m venv /var/lang && /var/lang/bin/pip install --quiet --no-index /tmp/wheels/*.whl \
     && rm -rf /tmp/wheels && mkdir -p /var/runtime /var/task \
     && printf "#!/bin/sh\nexec /var/lang/bin/python -m awslambdaric \"\$_HANDLER\"\n" >/var/runtime/bootstrap \
     && chmod 755 /var/runtime/bootstrap'
  buildah config --env LAMBDA_TASK_ROOT=/var/task --env LAMBDA_RUNTIME_DIR=/var/runtime \
    --env PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin --workingdir /var/task \
    --entrypoint '["/var/runtime/bootstrap"]' "${container}"
  buildah commit --quiet --format docker "${container}" "${LAMBDA_IMAGE}" >/dev/null
  buildah rm "${container}" >/dev/null
  podman rmi --force "${LAMBDA_REPOSITORY}:rapid-${ARCH}" >/dev/null 2>&1 || true  # SAM rebuilds it on the new base
}

# sam build again only when the template or the functions' code changed since the last build (it takes 15 s here).
build() {
  local built="${STATE}/build/template.yaml"
  if [[ -f "${built}" && -z "$(find "${ROOT}/template.yaml" "${ROOT}/functions" -newer "${built}" -print -quit)" ]]; then
    return
  fi
  step "sam build (Architecture=${ARCH}) into ${STATE#"${ROOT}"/}/build..."
  (cd "${ROOT}" && PATH="${VENV}:${PATH}" SAM_CLI_TELEMETRY=0 "${VENV}/sam" build \
    --config-file "${STATE}/samconfig.toml" >"${STATE}/build.log" 2>&1) || die "sam build failed (see ${STATE}/build.log)"
}

prepare() {
  check
  start_socket
  build_base
  build_lambda_image
  "${VENV}/python" -m ecr_governance_cli.sam_local "${STATE}" "${ARCH}" "${LAMBDA_IMAGE}" "${ENDPOINT}"
  build
  cat <<EOF
Ready: the real sam local invoke runs this project's functions against the emulator on port ${PORT}, which the
functions' containers reach as ${ENDPOINT}. Start it listening beyond loopback (anyone who can reach this machine
can then use it):  .venv/bin/ecr-governance emulator --seed --host 0.0.0.0 --port ${PORT} &
Then, in this shell:

export DOCKER_HOST=unix://${SOCKET}
.venv/bin/sam local invoke EnforceRepositoryFunction -e events/enforce/scheduled-reconcile.json --config-file ${STATE#"${ROOT}"/}/samconfig.toml
EOF
}

case "${1:-prepare}" in
  prepare) prepare ;;
  check) check ;;
  stop) stop_socket ;;
  *) die "usage: scripts/sam_local.sh [prepare|check|stop]" ;;
esac
