#!/usr/bin/env bash
# Build the retail API image and push it to Amazon ECR (or another registry) under an immutable tag.
# Steps: log in (aws ecr get-login-password | docker login), build, tag, push. See usage() or --help.
set -euo pipefail

readonly DEFAULT_REGION="ap-southeast-1"
readonly DEFAULT_REPOSITORY="mlops/retail-api"
readonly DEFAULT_PLATFORM="linux/arm64"
readonly ACCOUNT_PLACEHOLDER="<account-id>"
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
PROGRAM="$(basename "$0")"
readonly PROGRAM

usage() {
  cat <<EOF
Usage: ${PROGRAM} [options]

Build the retail API image (server/Dockerfile) and push it to Amazon ECR:
  1. aws ecr get-login-password | docker login     (account id from aws sts get-caller-identity --region REGION)
  2. docker build     3. docker tag     4. docker push

The repository's tags are immutable, so an image is never pushed as 'latest': the default tag is the short git
commit, and a tag that already exists in the repository is refused before anything is built or uploaded.
The container CLI is \$DOCKER (default: docker; podman works the same).

Options (each also settable by the environment variable shown; a flag wins over the variable):
  -r, --region REGION        AWS region of the registry             ECR_REGION      (default: ${DEFAULT_REGION})
  -n, --repository NAME      ECR repository name                    ECR_REPOSITORY  (default: ${DEFAULT_REPOSITORY})
  -t, --tag TAG              image tag                              IMAGE_TAG       (default: short git commit)
  -p, --platform PLATFORM    docker build --platform                IMAGE_PLATFORM  (default: ${DEFAULT_PLATFORM})
  -c, --context DIR          build context with the Dockerfile      BUILD_CONTEXT   (default: server/ of this repo)
  -i, --image NAME           push this local image instead of building one (e.g. what \`make image\` built and
                             tested): it is tagged and pushed as it is          SOURCE_IMAGE
      --registry HOST[:PORT] push to this registry instead of the account's ECR registry (a mirror, a local
                             registry): no AWS calls and no login (run docker login first if it needs one); an
                             existing tag is found with 'docker manifest inspect'        IMAGE_REGISTRY
      --allow-dirty          push from a work tree with uncommitted changes (default tag gets a -dirty suffix)
      --dry-run              print the commands instead of running them. Needs no docker; the AWS reads (account
                             id, existing tag) run when aws and credentials are there, else the account id is
                             printed as ${ACCOUNT_PLACEHOLDER} and the tag is not checked
  -h, --help                 show this help

Exit status: 0 pushed (or dry run), 1 refused or failed (one line on stderr says why), 2 bad usage.
EOF
}

die() {
  echo "${PROGRAM}: $*" >&2
  exit 1
}

note() {
  echo "${PROGRAM}: $*" >&2
}

usage_error() {
  echo "${PROGRAM}: $*" >&2
  echo "Try '${PROGRAM} --help'." >&2
  exit 2
}

# Print a command the way a shell would read it back (the account placeholder of a dry run left readable).
show() {
  local quoted placeholder
  printf -v quoted '%q ' "$@"
  printf -v placeholder '%q' "${ACCOUNT_PLACEHOLDER}"
  quoted="${quoted//"${placeholder}"/${ACCOUNT_PLACEHOLDER}}"
  echo "+ ${quoted% }"
}

run() {
  if [[ "${DRY_RUN}" == true ]]; then
    show "$@"
  else
    "$@"
  fi
}

require_value() {
  [[ $# -ge 2 && -n "$2" && "$2" != -* ]] || usage_error "option $1 needs a value"
}

REGION="${ECR_REGION:-${DEFAULT_REGION}}"
REPOSITORY="${ECR_REPOSITORY:-${DEFAULT_REPOSITORY}}"
TAG="${IMAGE_TAG:-}"
PLATFORM="${IMAGE_PLATFORM:-${DEFAULT_PLATFORM}}"
CONTEXT="${BUILD_CONTEXT:-${SCRIPT_DIR}/../server}"
SOURCE="${SOURCE_IMAGE:-}"
TARGET_REGISTRY="${IMAGE_REGISTRY:-}"
DOCKER="${DOCKER:-docker}"
ALLOW_DIRTY=false
DRY_RUN=false

while [[ $# -gt 0 ]]; do
  case "$1" in
    -r | --region) require_value "$@"; REGION="$2"; shift 2 ;;
    -n | --repository) require_value "$@"; REPOSITORY="$2"; shift 2 ;;
    -t | --tag) require_value "$@"; TAG="$2"; shift 2 ;;
    -p | --platform) require_value "$@"; PLATFORM="$2"; shift 2 ;;
    -c | --context) require_value "$@"; CONTEXT="$2"; shift 2 ;;
    -i | --image) require_value "$@"; SOURCE="$2"; shift 2 ;;
    --registry) require_value "$@"; TARGET_REGISTRY="$2"; shift 2 ;;
    --allow-dirty) ALLOW_DIRTY=true; shift ;;
    --dry-run) DRY_RUN=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

[[ "${REGION}" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]+$ ]] || usage_error "not an AWS region: '${REGION}'"
[[ "${REPOSITORY}" =~ ^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$ ]] \
  || usage_error "not an ECR repository name: '${REPOSITORY}'"
[[ -f "${CONTEXT}/Dockerfile" ]] || usage_error "no Dockerfile in build context '${CONTEXT}'"
[[ -z "${TARGET_REGISTRY}" || "${TARGET_REGISTRY}" =~ ^[A-Za-z0-9.-]+(:[0-9]+)?$ ]] \
  || usage_error "not a registry host[:port]: '${TARGET_REGISTRY}'"

# A dry run prints the docker commands, so it needs no docker; it uses aws when it can (see the account below).
# Another registry than ECR needs no aws at all.
required_tools=(git)
if [[ "${DRY_RUN}" != true ]]; then
  [[ -n "${TARGET_REGISTRY}" ]] || required_tools+=(aws)
  required_tools+=("${DOCKER}")
fi
for tool in "${required_tools[@]}"; do
  command -v "${tool}" >/dev/null 2>&1 || die "'${tool}' is not on PATH"
done

# The work tree: an image tagged with a commit must be built from exactly that commit.
git -C "${CONTEXT}" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  || die "build context '${CONTEXT}' is not in a git work tree (the default tag is the commit)"
COMMIT="$(git -C "${CONTEXT}" rev-parse --short HEAD)" || die "cannot read the current git commit"
DIRTY="$(git -C "${CONTEXT}" status --porcelain)" || die "cannot read the git status"
if [[ -n "${DIRTY}" ]]; then
  if [[ "${ALLOW_DIRTY}" != true ]]; then
    echo "${PROGRAM}: refusing to push from a work tree with uncommitted changes (the tag would not name what is" \
      "in the image); commit them, or pass --allow-dirty. First changes:" >&2
    head -n 5 <<<"${DIRTY}" >&2
    exit 1
  fi
  echo "${PROGRAM}: warning: work tree has uncommitted changes (--allow-dirty)" >&2
fi
if [[ -z "${TAG}" ]]; then
  TAG="${COMMIT}"
  if [[ -n "${DIRTY}" ]]; then
    TAG="${COMMIT}-dirty"
  fi
fi
[[ "${TAG}" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || usage_error "not a valid image tag: '${TAG}'"

# The account (in the registry's host name). A dry run without aws or credentials still prints every command, and
# needs no credentials: the AWS CLI's complaint about missing ones is left out (the note below says what it means).
ACCOUNT="${ACCOUNT_PLACEHOLDER}"
AWS_ERRORS=/dev/stderr
[[ "${DRY_RUN}" == true ]] && AWS_ERRORS=/dev/null
if [[ -n "${TARGET_REGISTRY}" ]]; then
  ACCOUNT="" # not ECR: no account, no AWS call
elif [[ "${DRY_RUN}" == true ]] && ! command -v aws >/dev/null 2>&1; then
  note "dry run: 'aws' is not on PATH, so the account id is shown as ${ACCOUNT_PLACEHOLDER} and whether tag" \
    "'${TAG}' exists is not checked"
elif ACCOUNT="$(aws sts get-caller-identity --region "${REGION}" --query Account --output text 2>"${AWS_ERRORS}")"; then
  [[ "${ACCOUNT}" =~ ^[0-9]{12}$ ]] || die "unexpected account id from aws sts get-caller-identity: '${ACCOUNT}'"
elif [[ "${DRY_RUN}" == true ]]; then
  ACCOUNT="${ACCOUNT_PLACEHOLDER}"
  note "dry run: cannot look up the account id (aws sts get-caller-identity failed), so it is shown as" \
    "${ACCOUNT_PLACEHOLDER} and whether tag '${TAG}' exists is not checked"
else
  die "cannot identify the AWS account (aws sts get-caller-identity failed): check your credentials"
fi
REGISTRY="${TARGET_REGISTRY:-${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com}"
IMAGE="${REGISTRY}/${REPOSITORY}:${TAG}"
LOCAL_IMAGE="${SOURCE:-${REPOSITORY}:${TAG}}"

# Immutable tags: check before building, so the answer is a clear sentence and not a failed push.
if [[ -n "${TARGET_REGISTRY}" ]]; then
  if [[ "${DRY_RUN}" == true ]] && ! command -v "${DOCKER}" >/dev/null 2>&1; then
    note "dry run: '${DOCKER}' is not on PATH, so whether tag '${TAG}' exists in ${REGISTRY} is not checked"
  elif EXISTING="$("${DOCKER}" manifest inspect "${IMAGE}" 2>&1)"; then
    die "tag '${TAG}' already exists in ${REGISTRY}/${REPOSITORY}; tags are immutable, so commit and push the new" \
      "commit, or choose another tag with --tag"
  elif ! grep -qiE 'manifest unknown|no such manifest|not found' <<<"${EXISTING}"; then
    die "cannot check whether tag '${TAG}' exists in ${REGISTRY}: $(tail -n 1 <<<"${EXISTING}")"
  fi
elif [[ "${ACCOUNT}" == "${ACCOUNT_PLACEHOLDER}" ]]; then
  : # a dry run that cannot reach AWS (said above)
elif EXISTING="$(aws ecr describe-images --region "${REGION}" --repository-name "${REPOSITORY}" \
  --image-ids "imageTag=${TAG}" --query 'imageDetails[0].imageDigest' --output text 2>&1)"; then
  die "tag '${TAG}' already exists in ${REPOSITORY} (${REGION}) as ${EXISTING}; tags are immutable, so commit" \
    "and push the new commit, or choose another tag with --tag"
elif [[ "${EXISTING}" == *RepositoryNotFoundException* ]]; then
  die "repository ${REPOSITORY} does not exist in account ${ACCOUNT} (${REGION}); create it first"
elif [[ "${EXISTING}" != *ImageNotFoundException* ]]; then
  if [[ "${DRY_RUN}" != true ]]; then
    die "cannot check whether tag '${TAG}' exists: ${EXISTING}"
  fi
  note "dry run: cannot check whether tag '${TAG}' exists: ${EXISTING}"
fi

ORIGIN="commit ${COMMIT}, platform ${PLATFORM}"
[[ -z "${SOURCE}" ]] || ORIGIN="commit ${COMMIT}, local image ${SOURCE}"
if [[ "${DRY_RUN}" == true ]]; then
  note "dry run: would push ${IMAGE} (${ORIGIN}); the commands:"
else
  echo "Pushing ${IMAGE} (${ORIGIN})" >&2
fi

# 1. Log in to ECR (another registry: log in beforehand): the password goes through a pipe, never onto a command
#    line or into the output.
if [[ -n "${TARGET_REGISTRY}" ]]; then
  : # not ECR
elif [[ "${DRY_RUN}" == true ]]; then
  echo "+ aws ecr get-login-password --region ${REGION} | ${DOCKER} login --username AWS --password-stdin ${REGISTRY}"
else
  aws ecr get-login-password --region "${REGION}" \
    | "${DOCKER}" login --username AWS --password-stdin "${REGISTRY}" >/dev/null \
    || die "${DOCKER} login to ${REGISTRY} failed"
fi

# 2. Build, labelled with where it came from (unless an image built before is pushed).
if [[ -z "${SOURCE}" ]]; then
  run "${DOCKER}" build \
    --platform "${PLATFORM}" \
    --label "org.opencontainers.image.revision=${COMMIT}" \
    --label "org.opencontainers.image.version=${TAG}" \
    --tag "${LOCAL_IMAGE}" \
    "${CONTEXT}"
fi

# 3. Tag for the registry.
run "${DOCKER}" tag "${LOCAL_IMAGE}" "${IMAGE}"

# 4. Push; a tag that appeared since the check (another pusher) is reported as such, not as a raw error.
if [[ "${DRY_RUN}" == true ]]; then
  show "${DOCKER}" push "${IMAGE}"
  exit 0
fi
PUSH_LOG="$(mktemp)"
trap 'rm -f "${PUSH_LOG}"' EXIT
if ! "${DOCKER}" push "${IMAGE}" 2>&1 | tee "${PUSH_LOG}"; then
  if grep -qiE 'already exists|cannot be overwritten|ImageTagAlreadyExists' "${PUSH_LOG}"; then
    die "tag '${TAG}' already exists in ${REPOSITORY} (pushed by someone else meanwhile); tags are immutable," \
      "choose another tag with --tag"
  fi
  die "docker push of ${IMAGE} failed (output above)"
fi
echo "Pushed ${IMAGE}" >&2
