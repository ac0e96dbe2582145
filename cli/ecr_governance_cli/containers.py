"""Container plumbing for a machine without a Docker engine: one place for what building and running the images here
needs, reused by `make image`, the image tests and anything that runs the real SAM CLI locally.

    python -m ecr_governance_cli.containers tools          # buildah, podman, runc, docker-registry, debootstrap
    python -m ecr_governance_cli.containers conf           # prints `export CONTAINERS_CONF=...` for podman/buildah here
    python -m ecr_governance_cli.containers python-base    # a python:3.13-slim-trixie image (official, else stand-in)
    python -m ecr_governance_cli.containers lambda-base    # a stand-in for public.ecr.aws/lambda/python:3.13-<arch>
    python -m ecr_governance_cli.containers image          # the retail API image, tagged with its model version
    python -m ecr_governance_cli.containers socket start   # podman's Docker API on a unix socket; prints DOCKER_HOST
    python -m ecr_governance_cli.containers socket stop
    python -m ecr_governance_cli.containers template TEMPLATE OUT_DIR   # a local variant of a SAM template

What this machine kind needs (measured): podman and buildah with `runc`, cgroupfs and no default ulimits (the default
crun fails); builds with `--isolation chroot --format docker` (the OCI format drops HEALTHCHECK); Docker Hub is
unreachable, so the python3.13 base is made from Debian's packages with debootstrap when the official image cannot
be had, cached under ~/.cache/ecr-governance (rebuilt after BASE_MAX_AGE_DAYS, for security updates). pip inside a
build uses this machine's package index and CA bundle when `pip config` names them (a company mirror, CodeArtifact
or a TLS-inspecting proxy): as the build argument PIP_INDEX_URL and the build secret `pip-ca` (see server/Dockerfile).
Builds through the Docker API (`sam build`) cannot pass build secrets, so the socket's podman mounts that CA bundle
read-only where the secret would be, /run/secrets/pip-ca.

With a running Docker engine, `image` is a plain `docker build` with the official base and nothing here is needed.
Every failure is one line (ContainerError); the command line prints it and exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_DIR = REPO_ROOT / "server"
# Outside the repository, kept between runs on one machine: the base's tarball, the configs, the socket.
CACHE_DIR = Path(
    os.environ.get("ECR_GOVERNANCE_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ecr-governance"
)

# Debian package -> the command it provides. skopeo is not needed: podman pulls, pushes and inspects.
DEBIAN_PACKAGES = {
    "buildah": "buildah",
    "podman": "podman",
    "runc": "runc",
    "docker-registry": "docker-registry",
    "debootstrap": "debootstrap",
}
PODMAN = ("podman", "buildah", "runc")  # what building and running images needs, installed together
OFFICIAL_PYTHON_IMAGE = "docker.io/library/python:3.13-slim-trixie"
STANDIN_PYTHON_IMAGE = "localhost/ecr-governance/python:3.13-slim-trixie"
DEBIAN_SUITE = "trixie"  # the official image's Debian release
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_MAX_AGE_DAYS = 7
RETAIL_IMAGE_REPOSITORY = "localhost/retail-api"
SECRET_MOUNT = "/run/secrets/pip-ca"  # where server/Dockerfile reads the `pip-ca` build secret
# Said on every stand-in (and so on every image built on one): not the official image of that name.
STANDIN_LABEL = 'LABEL ecr-governance.stand-in="made locally from Debian packages, not the official image"'

# podman/buildah settings this machine kind needs. [containers] volumes applies to containers started through the
# socket only (see socket_conf), never to the image tests' own containers.
_CONF = """\
# Written by ecr_governance_cli.containers: podman and buildah on this machine kind.
[containers]
default_ulimits = []
{volumes}
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


class ContainerError(Exception):
    """A step that failed, said in one line."""


def architecture() -> str:
    """This machine's architecture as Lambda names it."""
    machine = platform.machine().lower()
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def _write_if_changed(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def containers_conf() -> Path:
    """The containers.conf for podman and buildah here (CONTAINERS_CONF)."""
    return _write_if_changed(CACHE_DIR / "containers.conf", _CONF.format(volumes=""))


def socket_conf(pip: PipIndex) -> Path:
    """The socket's containers.conf: as containers_conf(), plus the machine's pip CA bundle where builds look for it."""
    volumes = f'volumes = ["{pip.ca_bundle}:{SECRET_MOUNT}:ro"]' if pip.ca_bundle else ""
    return _write_if_changed(CACHE_DIR / "containers-socket.conf", _CONF.format(volumes=volumes))


def podman_env(conf: Path | None = None) -> dict[str, str]:
    """This process's environment with CONTAINERS_CONF set for podman and buildah here."""
    return {**os.environ, "CONTAINERS_CONF": str(conf or containers_conf())}


def run(
    command: Sequence[str], env: Mapping[str, str] | None = None, what: str = "", quiet: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise ContainerError naming `what` and the command's last line of output."""
    try:
        result = subprocess.run(
            list(command),
            env=dict(env) if env is not None else podman_env(),
            text=True,
            capture_output=quiet,
            check=False,
        )
    except FileNotFoundError as error:
        raise ContainerError(f"{what or command[0]}: '{command[0]}' is not installed") from error
    if result.returncode != 0:
        lines = ((result.stderr or "") + (result.stdout or "")).strip().splitlines()
        detail = lines[-1] if lines else f"exit status {result.returncode}"
        raise ContainerError(f"{what or ' '.join(command[:3])} failed: {detail}")
    return result


def _as_root(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return command
    if shutil.which("sudo"):
        return ["sudo", *command]
    raise ContainerError(f"'{command[0]}' needs root: run as root or install sudo")


def ensure_tools(commands: Sequence[str] = tuple(DEBIAN_PACKAGES.values())) -> None:
    """Install the Debian packages that provide `commands` when any is missing; fail with one line if it cannot.
    Anything that runs podman needs runc too: Debian's podman brings crun, which fails on this machine kind."""
    wanted = {package: command for package, command in DEBIAN_PACKAGES.items() if command in commands}
    missing = [package for package, command in wanted.items() if not shutil.which(command)]
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise ContainerError(f"missing {', '.join(missing)} and no apt-get to install them (Debian packages)")
    print(f"installing {', '.join(missing)} from Debian's packages...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(_as_root(["apt-get", "update", "-qq"]), env=env, what="apt-get update")
    run(
        _as_root(["apt-get", "install", "-y", "-qq", *missing]),  # podman's recommends bring its network stack
        env=env,
        what=f"apt-get install {' '.join(missing)}",
    )
    still = [package for package in missing if not shutil.which(DEBIAN_PACKAGES[package])]
    if still:
        raise ContainerError(f"installed {', '.join(still)} but the command is still not on PATH")


@dataclass(frozen=True)
class PipIndex:
    """Where this machine's pip finds packages: what a build needs to do the same (None: pip's defaults)."""

    index_url: str | None = None
    ca_bundle: Path | None = None

    def build_args(self) -> dict[str, str]:
        return {"PIP_INDEX_URL": self.index_url} if self.index_url else {}

    def secret_options(self) -> list[str]:
        return ["--secret", f"id=pip-ca,src={self.ca_bundle}"] if self.ca_bundle else []


def pip_index(environ: Mapping[str, str] | None = None, pip_config: str | None = None) -> PipIndex:
    """The index URL and CA bundle this machine's pip uses: PIP_INDEX_URL / PIP_CERT, else `pip config list`
    (index-url and cert of the global or install section; later files win, as in pip). A file:// index cannot be
    reached from inside a build and is left out."""
    environ = os.environ if environ is None else environ
    if pip_config is None:
        listed = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
        )
        pip_config = listed.stdout
    found: dict[str, str] = {}
    for line in pip_config.splitlines():
        key, _, value = line.partition("=")
        section, _, name = key.rpartition(".")
        if section in ("global", "install") and name in ("index-url", "cert"):
            found[name] = value.strip().strip("'\"")
    index_url = environ.get("PIP_INDEX_URL") or found.get("index-url")
    ca_bundle = environ.get("PIP_CERT") or found.get("cert")
    return PipIndex(
        index_url=index_url if index_url and not index_url.startswith("file:") else None,
        ca_bundle=Path(ca_bundle) if ca_bundle and Path(ca_bundle).is_file() else None,
    )


def image_exists(name: str, env: Mapping[str, str] | None = None) -> bool:
    return subprocess.run(["podman", "image", "exists", name], env=env or podman_env(), check=False).returncode == 0


def _image_age_days(name: str) -> float:
    created = run(["podman", "image", "inspect", "--format", "{{.Created.Unix}}", name], what="podman image inspect")
    return (time.time() - int(created.stdout.strip())) / 86400


def python_base() -> str:
    """A python:3.13-slim-trixie image in local storage: the official one when present or pullable, else the
    stand-in made from Debian's packages (cached; remade after BASE_MAX_AGE_DAYS)."""
    ensure_tools(PODMAN)
    if image_exists(OFFICIAL_PYTHON_IMAGE):
        return OFFICIAL_PYTHON_IMAGE
    pulled = subprocess.run(
        ["podman", "pull", "--quiet", OFFICIAL_PYTHON_IMAGE], env=podman_env(), capture_output=True, check=False
    )
    if pulled.returncode == 0:
        return OFFICIAL_PYTHON_IMAGE
    if image_exists(STANDIN_PYTHON_IMAGE) and _image_age_days(STANDIN_PYTHON_IMAGE) < BASE_MAX_AGE_DAYS:
        return STANDIN_PYTHON_IMAGE
    tarball = CACHE_DIR / f"python3.13-{DEBIAN_SUITE}-{architecture()}.tar"
    if not tarball.exists() or (time.time() - tarball.stat().st_mtime) / 86400 >= BASE_MAX_AGE_DAYS:
        _debootstrap(tarball)
    run(
        [
            "podman", "import",
            "--change", "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change", "ENV LANG=C.UTF-8",
            "--change", STANDIN_LABEL,
            "--change", 'CMD ["python3"]',
            str(tarball), STANDIN_PYTHON_IMAGE,
        ],
        what="podman import of the python3.13 base",
    )  # fmt: skip
    return STANDIN_PYTHON_IMAGE


def _debootstrap(tarball: Path) -> None:
    """Debian trixie minbase with python3.13 (about 70 s), trimmed like the slim image, as a tarball."""
    ensure_tools(["debootstrap"])
    print(
        f"no {OFFICIAL_PYTHON_IMAGE} (Docker Hub unreachable?): making a stand-in from Debian's packages "
        f"(debootstrap {DEBIAN_SUITE}, about 70 s; cached in {CACHE_DIR})...",
        file=sys.stderr,
    )
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix="rootfs-") as work:
        rootfs = Path(work) / "rootfs"
        run(
            _as_root(
                [
                    "debootstrap", "--variant=minbase", "--include=python3.13,python3.13-venv,ca-certificates",
                    DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR,
                ]
            ),
            what=f"debootstrap {DEBIAN_SUITE} from {DEBIAN_MIRROR}",
        )  # fmt: skip
        # What the slim image leaves out too: package caches and lists, manuals, translations, docs but copyrights.
        for pattern in ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*",
                        "usr/share/man/*", "usr/share/locale/*"):  # fmt: skip
            for path in rootfs.glob(pattern):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        for path in (rootfs / "usr/share/doc").rglob("*"):
            if (path.is_file() or path.is_symlink()) and path.name != "copyright":
                path.unlink()
        for name in ("python", "python3"):  # as in the official image
            link = rootfs / "usr/local/bin" / name
            link.unlink(missing_ok=True)
            link.symlink_to("/usr/bin/python3.13")
        partial = tarball.with_suffix(".partial")
        run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], what="tar of the base")
        partial.replace(tarball)
        shutil.rmtree(rootfs, ignore_errors=True)


def _pinned(name: str) -> str:
    for line in (SERVER_DIR / "requirements.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == name:
            return line.split("#")[0].strip()
    raise ContainerError(f"{name} is not pinned in server/requirements.txt")


LAMBDA_BASE_DOCKERFILE = """\
FROM {base}
# A stand-in for the AWS Lambda Python base image: the runtime interface client in /var/lang and the bootstrap that
# the Runtime Interface Emulator starts. Only for running functions locally where public.ecr.aws is not at hand.
RUN --mount=type=secret,id=pip-ca \\
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \\
    && python -m venv /var/lang \\
    && /var/lang/bin/pip install --no-cache-dir --only-binary=:all: {awslambdaric} \\
    && mkdir -p /var/runtime /var/task \\
    && printf '#!/bin/sh\\nexec /var/lang/bin/python -m awslambdaric "$_HANDLER"\\n' > /var/runtime/bootstrap \\
    && chmod 755 /var/runtime/bootstrap
ENV LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin
WORKDIR /var/task
{label}
ENTRYPOINT ["/var/runtime/bootstrap"]
"""


def lambda_base_name(arch: str | None = None) -> str:
    return f"public.ecr.aws/lambda/python:3.13-{arch or architecture()}"


def lambda_base() -> str:
    """The image `sam local invoke` expects for python3.13 functions of this machine's architecture. A real one in
    local storage is kept; else a stand-in is built on python_base() (awslambdaric at the API's pinned version).
    SAM builds its `...-rapid-<arch>` image on top: remove that tag after this image changes."""
    name = lambda_base_name()
    if image_exists(name):
        return name
    ensure_tools(PODMAN)
    dockerfile = LAMBDA_BASE_DOCKERFILE.format(
        base=python_base(), awslambdaric=_pinned("awslambdaric"), label=STANDIN_LABEL
    )
    with tempfile.TemporaryDirectory(prefix="lambda-base-") as context:
        (Path(context) / "Dockerfile").write_text(dockerfile)
        _buildah_bud(context, name, {}, pip_index())
    return name


def _buildah_bud(context: str | Path, tag: str, build_args: Mapping[str, str], pip: PipIndex, *options: str) -> None:
    arguments = [item for key, value in build_args.items() for item in ("--build-arg", f"{key}={value}")]
    run(
        ["buildah", "bud", "--isolation", "chroot", "--format", "docker", "--layers", "--quiet",
         *arguments, *pip.secret_options(), *options, "--tag", tag, str(context)],
        what=f"buildah bud of {tag}",
    )  # fmt: skip


def model_version() -> str:
    return json.loads((SERVER_DIR / "app" / "model" / "model.json").read_text())["version"]


def docker_engine_running() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=60).returncode == 0


def _git_revision() -> str:
    git = ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"]
    result = subprocess.run(git, capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown"


def build_retail_image(engine: str = "auto") -> str:
    """Build server/Dockerfile as <repository>:<model version> and return that name. engine: docker (a running
    Docker engine, official base, nothing else needed), podman (buildah into podman's storage, base from
    python_base()), or auto (docker when its engine answers)."""
    if engine == "auto":
        engine = "docker" if docker_engine_running() else "podman"
    pip = pip_index()
    labels = {"org.opencontainers.image.revision": _git_revision(), "org.opencontainers.image.version": model_version()}
    label_options = [item for key, value in labels.items() for item in ("--label", f"{key}={value}")]
    if engine == "docker":
        tag = f"retail-api:{model_version()}"
        arguments = [item for key, value in pip.build_args().items() for item in ("--build-arg", f"{key}={value}")]
        run(
            ["docker", "build", *arguments, *pip.secret_options(), *label_options, "--tag", tag, str(SERVER_DIR)],
            env=os.environ,
            what="docker build",
            quiet=False,
        )
        return tag
    ensure_tools(PODMAN)
    tag = f"{RETAIL_IMAGE_REPOSITORY}:{model_version()}"
    build_args = {"PYTHON_IMAGE": os.environ.get("PYTHON_IMAGE") or python_base(), **pip.build_args()}
    _buildah_bud(SERVER_DIR, tag, build_args, pip, *label_options)
    return tag


def socket_path() -> Path:
    return CACHE_DIR / "podman.sock"


def _socket_answers(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(2)
            client.connect(str(path))
            client.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            status_line = client.recv(64).split(b"\r\n", 1)[0]
    except OSError:
        return False
    return status_line.startswith(b"HTTP/1.") and b" 200" in status_line


def start_socket(timeout: float = 30.0) -> str:
    """Start podman's Docker-compatible API on a unix socket (once; later calls reuse it) and return DOCKER_HOST.
    Builds through it use chroot isolation; containers get the machine's pip CA bundle (see socket_conf)."""
    ensure_tools(PODMAN)
    path = socket_path()
    docker_host = f"unix://{path}"
    if _socket_answers(path):
        return docker_host
    path.unlink(missing_ok=True)
    env = podman_env(socket_conf(pip_index()))
    env["BUILDAH_ISOLATION"] = "chroot"
    log = CACHE_DIR / "podman-service.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            ["podman", "system", "service", "--time=0", docker_host],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
    (CACHE_DIR / "podman-service.pid").write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ContainerError(f"podman system service exited with {process.returncode} (see {log})")
        if _socket_answers(path):
            return docker_host
        time.sleep(0.2)
    raise ContainerError(f"podman system service did not answer on {path} within {timeout:.0f}s")


def stop_socket() -> None:
    pid_file = CACHE_DIR / "podman-service.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):  # already gone, or not a pid
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        pid_file.unlink()
    socket_path().unlink(missing_ok=True)


def local_template(
    template: Path, out_dir: Path, arch: str | None = None, build_args: Mapping[str, str] | None = None
) -> Path:
    """A copy of a SAM template that builds and runs on this machine: every function's Architectures set to this
    machine's (arm64 needs CPU emulation on x86_64, which this machine kind lacks), image functions given
    `build_args` (DockerBuildArgs, e.g. PYTHON_IMAGE), and relative CodeUri / DockerContext made absolute so the copy
    can live anywhere. The original stays what is deployed."""
    from samcli.yamlhelper import yaml_dump, yaml_parse  # the SAM CLI is a development dependency

    spec = yaml_parse(template.read_text())
    base = template.resolve().parent
    machine = [arch or architecture()]
    shared = spec.get("Globals", {}).get("Function", {})
    functions = [r for r in spec.get("Resources", {}).values() if r.get("Type") == "AWS::Serverless::Function"]
    for properties in (shared, *(resource.setdefault("Properties", {}) for resource in functions)):
        if isinstance(properties.get("CodeUri"), str):
            properties["CodeUri"] = str((base / properties["CodeUri"]).resolve())
    if "Architectures" in shared:
        shared["Architectures"] = machine
    for resource in functions:
        resource["Properties"]["Architectures"] = machine
        metadata = resource.get("Metadata", {})
        if "DockerContext" in metadata:
            metadata["DockerContext"] = str((base / metadata["DockerContext"]).resolve())
            metadata["DockerBuildArgs"] = {**metadata.get("DockerBuildArgs", {}), **(build_args or {})}
    out_dir.mkdir(parents=True, exist_ok=True)
    local = out_dir / "template.yaml"
    local.write_text(yaml_dump(spec))
    return local


def rie_binary(arch: str | None = None) -> Path:
    """The AWS Lambda Runtime Interface Emulator that ships inside the SAM CLI package."""
    try:
        import samcli
    except ImportError as error:
        raise ContainerError("the SAM CLI is not installed (make venv)") from error
    path = Path(samcli.__file__).parent / "local" / "rapid" / f"aws-lambda-rie-{arch or architecture()}"
    if not path.is_file():
        raise ContainerError(f"no Runtime Interface Emulator at {path}")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecr_governance_cli.containers", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("tools", help="install buildah, podman, runc, docker-registry, debootstrap when missing")
    commands.add_parser("conf", help="print the CONTAINERS_CONF line for podman and buildah here")
    commands.add_parser("python-base", help="print a local python:3.13-slim-trixie image (made when missing)")
    commands.add_parser("lambda-base", help="print a local public.ecr.aws/lambda/python:3.13-<arch> (stand-in)")
    image = commands.add_parser("image", help="build the retail API image; prints its name")
    engine = os.environ.get("CONTAINER_ENGINE", "auto")
    image.add_argument("--engine", choices=["auto", "docker", "podman"], default=engine)
    sock = commands.add_parser("socket", help="podman's Docker API on a unix socket")
    sock.add_argument("action", choices=["start", "stop"])
    template = commands.add_parser("template", help="write a local variant of a SAM template (see local_template)")
    template.add_argument("template", type=Path)
    template.add_argument("out_dir", type=Path)
    template.add_argument("--architecture", default=None)
    template.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        if args.command == "tools":
            ensure_tools()
        elif args.command == "conf":
            print(f"export CONTAINERS_CONF={containers_conf()}")
        elif args.command == "python-base":
            print(python_base())
        elif args.command == "lambda-base":
            print(lambda_base())
        elif args.command == "image":
            started = time.monotonic()
            name = build_retail_image(args.engine)
            print(f"built {name} in {time.monotonic() - started:.0f} s", file=sys.stderr)
            print(name)
        elif args.command == "socket" and args.action == "start":
            print(f"DOCKER_HOST={start_socket()}")
        elif args.command == "socket":
            stop_socket()
        else:
            build_args = dict(item.split("=", 1) for item in args.build_arg)
            print(local_template(args.template, args.out_dir, args.architecture, build_args))
    except ContainerError as error:
        print(f"containers: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
