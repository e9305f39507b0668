"""A lab routing registry: the real IRRd 4, with its own PostgreSQL and Redis, per registry.

`start(name)` creates a network namespace `mlirr-NAME` with only a loopback interface, and in
it starts, as processes this module owns (pids recorded, stopped by pid):

- PostgreSQL (`postgres`, run as the `postgres` user), listening on a unix socket only
  (`listen_addresses=''`), its data folder under the registry's state folder;
- Redis (`redis-server --port 0`), a unix socket only;
- IRRd 4 (`irrd --foreground`, from its own venv, `.venv-irrd`: its dependencies are pinned to
  exact versions that clash with the project's), whois on 127.0.0.1:43 and its HTTP API (the
  submission interface) on 127.0.0.1:8080 inside the namespace, which has no route anywhere.

The objects come from an RPSL file (`data/world.rpsl` by default: the lab world's maintainers,
contacts, aut-nums, as-sets and route objects), loaded with `irrd_load_database`. The database
schema is made once (initdb + `irrd_database_upgrade`) into a template folder next to the
registries and copied for each registry, which saves most of the start-up.

One registry per learner instance: no learner sees another's changes, and stopping it removes
everything (processes, database files, namespace). `query`, `bgpq4` and `submit` run their
client inside the namespace (`ip netns exec`), so nothing is ever sent outside it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from manrs_lab.errors import LabError
from manrs_lab.instance import pid_alive, validate_instance_name
from manrs_lab.paths import config_check_cache, state_root
from manrs_lab.progress import Progress, SilentProgress
from manrs_lab.runtime.netns import existing_namespaces, namespace_pids, stop_processes

SOURCE = "LABIRR"
WHOIS_PORT = 43
HTTP_PORT = 8080
SMTP_PORT = 2525
NETNS_PREFIX = "mlirr-"
DATA_DIR = Path(__file__).resolve().parent / "data"
WORLD = DATA_DIR / "world.rpsl"
PG_USER = "postgres"
START_TIMEOUT = 60.0
PRELOAD_TIMEOUT = 30.0  # s an accepted route change may take to reach bgpq4's answers
# A lab's registry is one veth away from the learner's router: a link-local /30 between the
# router's `irr0` and the registry's `lab0`. Nothing routes past it: the registry's namespace
# has no other interface but `lo` and no route but the link's own.
LAB_IFACE = "irr0"
REGISTRY_IFACE = "lab0"
LAB_ROUTER_ADDRESS = "169.254.43.1/30"
LAB_REGISTRY_ADDRESS = "169.254.43.2/30"
LAB_WHOIS_HOST = "169.254.43.2"  # what the learner gives whois -h and bgpq4 -h
RECORD = "registry.json"
LAB_MARK = "lab-instance"  # in a lab instance's registry folder: `up` started it
TEMPLATE_VERSION = "1"  # bump when the template's making changes


class RegistryError(LabError):
    """The lab registry cannot be started, queried or updated."""


def irrd_bin_dir() -> Path:
    """Where IRRd's commands are: $MANRS_LAB_IRRD_VENV/bin, else the repo's .venv-irrd/bin."""
    env = os.environ.get("MANRS_LAB_IRRD_VENV")
    if env:
        return Path(env) / "bin"
    for parent in Path(__file__).resolve().parents:
        if (parent / ".venv-irrd").is_dir():
            return parent / ".venv-irrd" / "bin"
    return Path(sys.prefix).parent / ".venv-irrd" / "bin"


def pg_bin_dir() -> Path:
    """PostgreSQL's server programs (Debian keeps them out of PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), reverse=True)
    if found:
        return found[0].parent
    which = shutil.which("postgres")
    if which:
        return Path(which).resolve().parent
    raise RegistryError("PostgreSQL is not installed (run ./install.sh)")


def missing_programs() -> str | None:
    """Why the registry cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, port 43)"
    for program in ("redis-server", "bgpq4", "ip", "runuser"):
        if shutil.which(program) is None:
            return f"{program} is not installed (run ./install.sh)"
    try:
        pg_bin_dir()
    except RegistryError as exc:
        return str(exc)
    if not (irrd_bin_dir() / "irrd").exists():
        return f"IRRd is not installed in {irrd_bin_dir().parent} (run ./install.sh)"
    # IRRd and the mail sink run as PG_USER: their interpreter and code must be readable by it
    # (not so if the repository or the venv's Python lies under /root).
    for needed in (
        irrd_bin_dir() / "irrd",
        irrd_bin_dir() / "python",
        Path(__file__).with_name("mailsink.py"),
    ):
        probe = subprocess.run(
            ["runuser", "-u", PG_USER, "--", "test", "-r", str(needed.resolve())],
            capture_output=True,
            check=False,
        )
        if probe.returncode != 0:
            return f"user {PG_USER} cannot read {needed.resolve()} (move the repository)"
    return None


def netns(name: str) -> str:
    return f"{NETNS_PREFIX}{name}"


def registries_dir() -> Path:
    # `_` cannot start an instance name, so this never clashes with a lab instance's folder.
    return state_root() / "_registry"


def registry_dir(name: str) -> Path:
    return registries_dir() / validate_instance_name(name)


@dataclass
class Registry:
    name: str
    folder: Path
    pids: dict[str, int]

    @property
    def netns(self) -> str:
        return netns(self.name)


def _run(
    argv: list[str],
    what: str,
    *,
    timeout: float = 120.0,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
    cwd: Path | None = None,
) -> str:
    # The unprivileged user's programs run in a folder of the registry's: the caller's working
    # directory may be one it cannot read (a notebook's, under /root), and IRRd's imports stat it.
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
            input=input_text,
            cwd=cwd,
        )
    except subprocess.TimeoutExpired:
        raise RegistryError(f"{what}: timed out after {timeout:g} s") from None
    except FileNotFoundError as exc:
        raise RegistryError(f"{what}: {exc}") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise RegistryError(f"{what} failed (exit {proc.returncode}): {detail}")
    return proc.stdout


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *argv]


def _in_ns(name: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", netns(name), *argv]


def _irrd_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{irrd_bin_dir()}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


def irrd_config(folder: Path, lab_link: bool = False) -> dict[str, object]:
    """IRRd's settings: unix sockets for PostgreSQL and Redis, whois and HTTP servers on the
    namespace's loopback (on 0.0.0.0 for a lab's registry, `lab_link`, whose namespace also has
    the link to the learner's router), one source (authoritative: it takes submissions), RPKI
    and e-mail off the net."""
    run = folder / "run"
    interface = "0.0.0.0" if lab_link else "127.0.0.1"
    # IRRd's HTTP server answers only requests for its URL's host (Starlette's trusted host):
    # a lab's registry is asked at its link address, from the learner's router and by `submit`.
    http_host = LAB_WHOIS_HOST if lab_link else "127.0.0.1"
    return {
        "irrd": {
            "database_url": f"postgresql:///irrd?host={run}&user={PG_USER}",
            "redis_url": f"unix://{run}/redis.sock",
            "piddir": str(run),
            # IRRd binds port 43 as root, then runs as this user (the registry's one user).
            "user": PG_USER,
            "group": PG_USER,
            "server": {
                # One whois worker: each worker holds its own copy of the preload store and
                # refreshes it a moment after a change, so with several a filter built just
                # after an update could come from a worker not yet refreshed. One learner's
                # queries are short and few; one worker also saves about 100 MB.
                "whois": {
                    "interface": interface,
                    "port": WHOIS_PORT,
                    "max_connections": 1,
                },
                "http": {
                    "interface": interface,
                    "port": HTTP_PORT,
                    "workers": 1,
                    "url": f"http://{http_host}:{HTTP_PORT}/",
                },
            },
            "auth": {
                "gnupg_keyring": str(folder / "gnupg"),
                "override_password": None,
                "set_creation": {"COMMON": {"prefix_required": False}},
                "password_hashers": {"md5-pw": "enabled", "bcrypt-pw": "enabled"},
            },
            # Reports and notifications go to the registry's own mail sink (mailsink.py), which
            # keeps them as files in mail/: nothing leaves the namespace. (Without a server
            # that accepts them, IRRd 4.5 answers a refused update with HTTP 500.)
            "email": {"from": "registry@lab.invalid", "smtp": f"127.0.0.1:{SMTP_PORT}"},
            "rpki": {"roa_source": None},
            "log": {"logfile_path": str(folder / "irrd.log"), "level": "INFO"},
            "sources_default": [SOURCE],
            "sources": {SOURCE: {"authoritative": True, "keep_journal": True}},
        }
    }


def _write_config(folder: Path, lab_link: bool = False) -> Path:
    import yaml  # noqa: PLC0415

    config = folder / "irrd.yaml"
    config.write_text(yaml.safe_dump(irrd_config(folder, lab_link), sort_keys=False))
    (folder / "gnupg").mkdir(mode=0o700, exist_ok=True)
    return config


PG_SETTINGS = [
    "listen_addresses=",  # unix socket only
    "max_connections=40",
    "shared_buffers=16MB",
    "fsync=off",  # lab data, made again from the RPSL file at every start
    "synchronous_commit=off",
    "full_page_writes=off",
    "log_min_messages=warning",
]


def _start_postgres(name: str, folder: Path) -> int:
    run = folder / "run"
    argv = [str(pg_bin_dir() / "postgres"), "-D", str(folder / "pgdata"), "-k", str(run)]
    for setting in PG_SETTINGS:
        argv += ["-c", setting]
    log = (folder / "postgres.log").open("ab")
    proc = subprocess.Popen(
        _in_ns(name, _as_postgres(argv)),
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=folder,
    )
    log.close()
    _wait((run / ".s.PGSQL.5432").exists, proc, "PostgreSQL", folder / "postgres.log")
    # postmaster.pid's first line is the postmaster's own pid (runuser forks it).
    pid_line = (folder / "pgdata" / "postmaster.pid").read_text().split("\n", 1)[0]
    return int(pid_line)


def _wait(
    ready: Callable[[], bool], proc: subprocess.Popen[bytes] | None, what: str, log: Path
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if ready():
            return
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise RegistryError(f"{what} exited (code {proc.returncode}) while starting:\n{tail}")
        time.sleep(0.05)
    raise RegistryError(f"{what} did not get ready within {START_TIMEOUT:g} s (log: {log})")


def template_dir() -> Path:
    """Where the database template is: shared by every state root on the machine (it holds no
    learner's data), named after what made it, so a new IRRd or PostgreSQL makes a new one."""
    irrd = sorted(irrd_bin_dir().parent.glob("lib/python*/site-packages/irrd-*.dist-info"))
    irrd_version = irrd[-1].name.removesuffix(".dist-info") if irrd else "irrd"
    pg_major = pg_bin_dir().parent.name
    cache = config_check_cache().parent / "irr-registry"
    return cache / f"template-{TEMPLATE_VERSION}-pg{pg_major}-{irrd_version}"


def _template(progress: Progress) -> Path:
    """An initialised PostgreSQL folder with IRRd's schema, made once and copied per registry.
    Made in a folder of its own and renamed into place: two sessions making it at once both
    succeed, and one of the two copies is kept."""
    final = template_dir()
    if (final / "done").exists():
        return final / "pgdata"
    progress.step("making the registry's database template (once per machine)")
    final.parent.mkdir(parents=True, exist_ok=True)
    root = final.parent / f".building-{os.getpid()}-{time.monotonic_ns()}"
    try:
        _make_template(root)
        try:
            root.rename(final)
        except OSError:  # another session's template got there first
            shutil.rmtree(root, ignore_errors=True)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return final / "pgdata"


def _make_template(root: Path) -> None:
    (root / "run").mkdir(parents=True)
    shutil.chown(root, PG_USER, PG_USER)
    shutil.chown(root / "run", PG_USER, PG_USER)
    _run(
        _as_postgres(
            [
                str(pg_bin_dir() / "initdb"),
                "-D",
                str(root / "pgdata"),
                "-U",
                PG_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        "initdb",
        cwd=root,
    )
    argv = [str(pg_bin_dir() / "postgres"), "-D", str(root / "pgdata"), "-k", str(root / "run")]
    for setting in PG_SETTINGS:
        argv += ["-c", setting]
    log = root / "postgres.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            _as_postgres(argv),
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=root,
        )
    try:
        _wait((root / "run" / ".s.PGSQL.5432").exists, proc, "PostgreSQL", log)
        _run(
            _as_postgres([str(pg_bin_dir() / "createdb"), "-h", str(root / "run"), "irrd"]),
            "createdb",
            cwd=root,
        )
        _run(
            _as_postgres(
                [
                    "psql",
                    "-q",
                    "-h",
                    str(root / "run"),
                    "-d",
                    "irrd",
                    "-c",
                    "CREATE EXTENSION IF NOT EXISTS pgcrypto",
                ]
            ),
            "psql",
            cwd=root,
        )
        config = _write_config(root)
        _run(
            [str(irrd_bin_dir() / "irrd_database_upgrade"), "--config", str(config)],
            "irrd_database_upgrade",
            env=_irrd_env(),
            cwd=root,
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)  # PostgreSQL's fast shutdown
        proc.wait(timeout=30)
    (root / "irrd.yaml").unlink(missing_ok=True)
    (root / "done").write_text("ok\n")


def start(
    name: str,
    data: Path = WORLD,
    progress: Progress | None = None,
    *,
    lab_link: bool = False,
) -> Registry:
    """Start the registry `name` with the objects of `data` (RPSL); undone if anything fails.

    `lab_link`: a lab's registry, whose whois server and submission API also answer on the link
    `connect` adds to the learner's router (they listen on every address of its namespace: its
    loopback and that one link, which leads nowhere else)."""
    progress = progress or SilentProgress()
    why = missing_programs()
    if why:
        raise RegistryError(f"the lab registry cannot start: {why}")
    folder = registry_dir(name)
    if not data.is_file():
        raise RegistryError(f"RPSL file {data}: not found")
    registries_dir().mkdir(parents=True, exist_ok=True)
    template = _template(progress)
    running = f"registry {name} is already running (stop it: manrs-lab registry down {name})"
    # Claims, in this order, each refused if taken: the folder (atomic mkdir; its record is
    # what lets `stop` touch the namespace), then the namespace (names are machine-wide, state
    # roots are not). A refused claim undoes only its own, never the other owner's things.
    try:
        folder.mkdir()
    except FileExistsError:
        raise RegistryError(running) from None
    pids: dict[str, int] = {}
    _save(Registry(name, folder, pids))
    if lab_link:
        (folder / LAB_MARK).write_text(f"{name}\n")  # a lab instance's (`doctor` reads it)
    add = subprocess.run(["ip", "netns", "add", netns(name)], capture_output=True, check=False)
    if add.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RegistryError(f"{running}, or namespace {netns(name)} is another state root's")
    try:
        progress.step(f"registry {name}: namespace, PostgreSQL, Redis")
        (folder / "run").mkdir()
        _run(["ip", "-n", netns(name), "link", "set", "lo", "up"], "ip link set lo up")
        _run(["cp", "-a", str(template), str(folder / "pgdata")], "copying the database template")
        config = _write_config(folder, lab_link)
        (folder / "irrd.log").touch()
        for path in (folder, folder / "run", folder / "irrd.log", folder / "gnupg"):
            shutil.chown(path, PG_USER, PG_USER)
        _save(Registry(name, folder, pids))
        pids["postgres"] = _start_postgres(name, folder)
        _save(Registry(name, folder, pids))
        registry = _start_services(Registry(name, folder, pids), config, data, progress)
    except BaseException:
        stop(name)
        raise
    return registry


def _start_services(registry: Registry, config: Path, data: Path, progress: Progress) -> Registry:
    """Redis, the mail sink, the objects loaded, IRRd: each recorded as soon as it runs."""
    name, folder, pids = registry.name, registry.folder, registry.pids
    redis_log = (folder / "redis.log").open("ab")
    redis = subprocess.Popen(
        _in_ns(
            name,
            _as_postgres(
                [
                    "redis-server",
                    "--port",
                    "0",
                    "--unixsocket",
                    str(folder / "run" / "redis.sock"),
                    "--unixsocketperm",
                    "700",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(folder),
                ]
            ),
        ),
        stdout=redis_log,
        stderr=redis_log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=folder,
    )
    redis_log.close()
    pids["redis"] = redis.pid
    _save(Registry(name, folder, pids))
    _wait((folder / "run" / "redis.sock").exists, redis, "Redis", folder / "redis.log")
    mail_log = (folder / "mailsink.log").open("ab")
    mail = subprocess.Popen(
        _in_ns(
            name,
            _as_postgres(
                [
                    str(irrd_bin_dir() / "python"),
                    str(Path(__file__).with_name("mailsink.py")),
                    str(SMTP_PORT),
                    str(folder / "mail"),
                ]
            ),
        ),
        stdout=mail_log,
        stderr=mail_log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=folder,
    )
    mail_log.close()
    pids["mail"] = mail.pid
    _save(Registry(name, folder, pids))
    progress.step(f"registry {name}: loading {data.name}")
    # Loaded from a copy, by the unprivileged user inside the namespace: the file may be a
    # learner's, and is parsed as data by IRRd's loader, never with root's rights.
    objects = folder / "objects.rpsl"
    shutil.copyfile(data, objects)
    shutil.chown(objects, PG_USER, PG_USER)
    _run(
        _in_ns(
            name,
            _as_postgres(
                [
                    str(irrd_bin_dir() / "irrd_load_database"),
                    "--config",
                    str(config),
                    "--source",
                    SOURCE,
                    str(objects),
                ]
            ),
        ),
        f"loading {data}",
        env=_irrd_env(),
        cwd=folder,
    )
    progress.step(f"registry {name}: starting IRRd")
    irrd_log = (folder / "irrd.out").open("ab")
    irrd = subprocess.Popen(
        _in_ns(name, [str(irrd_bin_dir() / "irrd"), "--config", str(config), "--foreground"]),
        stdout=irrd_log,
        stderr=irrd_log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env=_irrd_env(),
        cwd=folder,
    )
    irrd_log.close()
    pids["irrd"] = irrd.pid
    _save(Registry(name, folder, pids))
    registry = Registry(name, folder, pids)
    _wait(lambda: _answers(registry), irrd, "IRRd", folder / "irrd.log")
    _wait(lambda: _preloaded(registry), irrd, "IRRd's preload store", folder / "irrd.log")
    return registry


def connect(name: str, node_netns: str) -> None:
    """The link from a lab node's namespace (the learner's router) to registry `name`:
    `irr0` (169.254.43.1/30) there, `lab0` (169.254.43.2/30) in the registry's namespace.
    It goes with either namespace (a veth pair dies with its first end)."""
    load(name)
    ns = netns(name)
    _run(
        [
            "ip",
            "link",
            "add",
            LAB_IFACE,
            "netns",
            node_netns,
            "type",
            "veth",
            "peer",
            "name",
            REGISTRY_IFACE,
            "netns",
            ns,
        ],
        f"linking {node_netns} to the registry",
    )
    for where, iface, address in (
        (node_netns, LAB_IFACE, LAB_ROUTER_ADDRESS),
        (ns, REGISTRY_IFACE, LAB_REGISTRY_ADDRESS),
    ):
        _run(["ip", "-n", where, "addr", "add", address, "dev", iface], f"address on {iface}")
        _run(["ip", "-n", where, "link", "set", iface, "up"], f"{iface} up")


def _answers(registry: Registry) -> bool:
    """IRRd answers on whois and HTTP (an IRRd-style `!v` version query, then GET /)."""
    probe = (
        "import socket,sys\n"
        "for port, req in ((43, b'!v\\n'), (8080, b'GET / HTTP/1.0\\r\\n\\r\\n'),"
        " (2525, b'QUIT\\r\\n')):\n"
        "    s = socket.create_connection(('127.0.0.1', port), timeout=2)\n"
        "    s.sendall(req)\n"
        "    if not s.recv(64): sys.exit(1)\n"
    )
    proc = subprocess.run(
        _in_ns(registry.name, [sys.executable, "-c", probe]),
        capture_output=True,
        check=False,
        timeout=10,
    )
    return proc.returncode == 0


def _redis_command(*words: bytes) -> bytes:
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)


# IRRd 4's whois worker loads its in-memory preload store (as-sets, prefixes per origin: what
# bgpq4 asks for) only when the store manager announces a completed load on a Redis channel.
# A worker that subscribes after the manager's first announcement misses it and answers no set
# or prefix query until the next change in the registry (seen here: bgpq4 hanging for good
# right after `up`, now and then). `_preloaded` asks such a query; until it is answered, the
# announcement is sent again (the store itself is in Redis already).
PRELOAD_COMPLETE = _redis_command(b"PUBLISH", b"irrd-preload-complete-channel", b"complete")


def _preloaded(registry: Registry) -> bool:
    """The whois worker answers a set query (from its preload store) within a second; if not,
    announce the preload store as complete once more."""
    try:
        query(registry.name, "!iAS-MANRS-LAB-READY", timeout=1.0)
        return True
    except RegistryError:
        pass  # timed out: the worker waits for its store
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as redis_conn:
        redis_conn.settimeout(2)
        redis_conn.connect(str(registry.folder / "run" / "redis.sock"))
        redis_conn.sendall(PRELOAD_COMPLETE)
        redis_conn.recv(64)  # ":N" subscribers reached
    return False


def _save(registry: Registry) -> None:
    record = {"name": registry.name, "pids": registry.pids}
    (registry.folder / RECORD).write_text(json.dumps(record))


def load(name: str) -> Registry:
    folder = registry_dir(name)
    try:
        record = json.loads((folder / RECORD).read_text())
    except FileNotFoundError:
        raise RegistryError(
            f"no registry {name} (start one: manrs-lab registry up {name})"
        ) from None
    return Registry(name, folder, {k: int(v) for k, v in record["pids"].items()})


def stop(name: str) -> None:
    """Stop everything of registry `name`: its processes, namespace and files. Idempotent."""
    folder = registry_dir(name)
    pids: list[int] = []
    try:
        record = json.loads((folder / RECORD).read_text())
        pids = [int(p) for p in record["pids"].values()]
    except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError):
        # No record, no proof that the namespace is ours (it may be another state root's).
        shutil.rmtree(folder, ignore_errors=True)
        return
    ns = netns(name)
    if ns in existing_namespaces():
        pids += namespace_pids(ns)
    # Children too (IRRd's workers; PostgreSQL's backends stop with the postmaster).
    stop_processes(pids + _children(pids), timeout=10.0)
    if ns in existing_namespaces():
        stop_processes(namespace_pids(ns), timeout=5.0)
        subprocess.run(["ip", "netns", "delete", ns], capture_output=True, check=False)
    shutil.rmtree(folder, ignore_errors=True)


def _children(pids: list[int]) -> list[int]:
    found: list[int] = []
    todo = list(pids)
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                kids = (task / "children").read_text().split()
                found += [int(k) for k in kids]
                todo += [int(k) for k in kids]
    return found


def is_lab_registry(name: str) -> bool:
    """Started by a lab's `up` (named like its instance), not by `manrs-lab registry up`."""
    return (registry_dir(name) / LAB_MARK).is_file()


def alive(name: str) -> bool:
    """Registry `name` has a record and every process it recorded (IRRd among them) lives."""
    try:
        registry = load(name)
    except RegistryError:
        return False
    return "irrd" in registry.pids and all(pid_alive(p) for p in registry.pids.values())


def running() -> list[str]:
    folder = registries_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / RECORD).exists())


def query(name: str, text: str, timeout: float = 10.0) -> str:
    """A whois query to the registry (`-s LABIRR AS-EDGE`, `!iAS-EDGE,1`, ...), its answer."""
    load(name)
    client = (
        "import socket,sys\n"
        f"s = socket.create_connection(('127.0.0.1', 43), timeout={timeout!r})\n"
        "s.sendall(sys.argv[1].encode() + b'\\n')\n"
        "out = b''\n"
        "while chunk := s.recv(65536): out += chunk\n"
        "sys.stdout.write(out.decode('utf-8', 'replace'))\n"
    )
    return _run(
        _in_ns(name, [sys.executable, "-c", client, text]), f"whois {text!r}", timeout=timeout + 5
    )


def bgpq4(name: str, args: list[str], timeout: float = 30.0) -> str:
    """bgpq4 against the registry (always `-h 127.0.0.1 -S LABIRR`, inside its namespace)."""
    load(name)
    argv = ["bgpq4", "-h", f"127.0.0.1:{WHOIS_PORT}", "-S", SOURCE, *args]
    return _run(_in_ns(name, argv), "bgpq4 " + " ".join(args), timeout=timeout)


@dataclass(frozen=True)
class SubmitResult:
    ok: bool  # every object was accepted
    report: str  # one line per object: accepted/refused and IRRd's messages
    response: dict[str, object]  # IRRd's JSON answer


SUBMIT_CLIENT = """
import json, sys, urllib.error, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.stdin.buffer.read(), method=sys.argv[2],
                             headers={"Content-Type": "application/json"})
try:
    answer = urllib.request.urlopen(req, timeout=30)
except urllib.error.HTTPError as exc:
    answer = exc
sys.stdout.write(answer.read().decode("utf-8", "replace"))
"""


def submit(
    name: str, rpsl: str, passwords: list[str] | None = None, delete_reason: str | None = None
) -> SubmitResult:
    """Create or change objects (RPSL text, objects separated by blank lines) as an operator
    does: through IRRd's submission interface (its HTTP API, `/v1/submit/`), authenticated by
    the maintainers' `passwords`; with `delete_reason`, delete them.

    (IRRd 4.5.4's own `irr_rpsl_submit` fails on any password: it replaces a str in bytes when
    logging the request; the API it posts to is what this uses.)"""
    load(name)
    objects = [
        {"object_text": block.strip() + "\n"}
        for block in re.split(r"\n\s*\n", rpsl)
        if block.strip()
    ]
    if not objects:
        raise RegistryError("nothing to submit: no RPSL objects in the text")
    body: dict[str, object] = {"objects": objects, "passwords": passwords or []}
    if delete_reason is not None:
        body["delete_reason"] = delete_reason
    # A lab's registry answers at its link address (irrd_config), which its namespace holds
    # once `connect` made the link.
    host = LAB_WHOIS_HOST if is_lab_registry(name) else "127.0.0.1"
    url = f"http://{host}:{HTTP_PORT}/v1/submit/"
    method = "DELETE" if delete_reason is not None else "POST"
    out = _run(
        _in_ns(name, [sys.executable, "-c", SUBMIT_CLIENT, url, method]),
        "submitting to the registry",
        timeout=60,
        input_text=json.dumps(body),
    )
    try:
        response = json.loads(out)
    except json.JSONDecodeError:
        raise RegistryError(f"the registry's answer is not JSON: {out[:500]}") from None
    lines = []
    ok = bool(response.get("objects"))
    for result in response.get("objects", []):
        accepted = bool(result.get("successful"))
        ok = ok and accepted
        what = f"{result.get('object_class')} {result.get('rpsl_pk')}"
        verdict = f"{result.get('type', 'change').lower()} accepted" if accepted else "refused"
        messages = [*result.get("error_messages", []), *result.get("info_messages", [])]
        lines.append(f"{what}: {verdict}" + "".join(f"\n    {m}" for m in messages))
    if ok:
        _wait_preloaded(name, response)
    return SubmitResult(ok, "\n".join(lines), response)


ROUTE_PK_RE = re.compile(r"^(?P<prefix>[0-9a-fA-F.:]+/\d+)(?P<origin>AS\d+)$")


def _wait_preloaded(name: str, response: dict[str, object]) -> None:
    """whois answers from PostgreSQL at once; bgpq4's prefix queries (!a, !g, !6) from IRRd's
    preload store, refreshed just after a change. Wait until it has the accepted route
    changes, so that a filter built right after `submit` has them."""
    objects = response.get("objects")
    pending: list[tuple[str, str, bool]] = []
    for result in objects if isinstance(objects, list) else []:
        pk = ROUTE_PK_RE.match(str(result.get("rpsl_pk", "")))
        if result.get("object_class") in ("route", "route6") and pk:
            ask = ("!6" if result["object_class"] == "route6" else "!g") + pk["origin"]
            present = str(result.get("type", "")).lower() != "delete"
            pending.append((ask, pk["prefix"], present))
    deadline = time.monotonic() + PRELOAD_TIMEOUT
    while pending:
        pending = [
            (q, prefix, present)
            for q, prefix, present in pending
            if (prefix.lower() in query(name, q).lower().split()) != present
        ]
        if not pending:
            return
        if time.monotonic() > deadline:
            # Accepted and stored, but bgpq4 would not see it yet: say so, never "done".
            raise RegistryError(
                f"registry {name}: the update was accepted, but after {PRELOAD_TIMEOUT:.0f} s "
                f"its prefix queries still do not show it ({', '.join(q for q, _, _ in pending)}"
                "): the machine is very busy; query again before building a filter"
            )
        time.sleep(0.1)
