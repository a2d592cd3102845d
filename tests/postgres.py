"""A throwaway PostgreSQL server for the journal tests.

:class:`Server` runs Debian's ``postgresql`` binaries (``/usr/lib/postgresql/*/bin``)
on a fresh data directory in a temporary directory. It listens on no TCP port at
all, only on a Unix socket in that directory, so concurrent test runs cannot
collide; authentication is ``trust`` for that socket only, and no password
exists anywhere. ``fsync`` is off: the data is thrown away.

initdb and postgres refuse to run as root: as root, every server command runs as
the ``postgres`` user through ``runuser`` and the directory is chown'ed to it.

The ``postgres_url`` fixture (tests/conftest.py) starts one server per test
session and stops it at the end, also when tests fail. Without the binaries the
tests that need it skip, saying which package to install, and fail under CI.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

USER = "smsframe"  # the database superuser initdb creates (no password: trust on the socket)
DATABASE = "smsframe"
INSTALL_HINT = (
    "the PostgreSQL journal tests need the PostgreSQL server binaries (initdb, pg_ctl, "
    "postgres), looked for in /usr/lib/postgresql/*/bin and on PATH: install Debian's "
    "package with `apt-get install -y postgresql` (.ci/run does it when they are missing)"
)


class Unavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says why and what to do."""


def find_bin() -> Path:
    """The directory of the newest installed PostgreSQL server binaries
    (``$SMSFRAME_TEST_PG_BIN`` when set, and only it)."""
    needed = ("initdb", "pg_ctl", "postgres")
    chosen = os.environ.get("SMSFRAME_TEST_PG_BIN")
    if chosen:
        if all(os.access(Path(chosen, name), os.X_OK) for name in needed):
            return Path(chosen)
        raise Unavailable(
            f"SMSFRAME_TEST_PG_BIN={chosen} lacks {', '.join(needed)}; {INSTALL_HINT}"
        )
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: [int(p) if p.isdigit() else 0 for p in Path(path).parent.name.split(".")],
        reverse=True,
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for candidate in candidates:
        if all(os.access(Path(candidate, name), os.X_OK) for name in needed):
            return Path(candidate)
    raise Unavailable(INSTALL_HINT)


class Server:
    """One PostgreSQL server on a Unix socket in a temporary directory."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable  # commits survive an immediate stop (synchronous_commit)
        self.bin = find_bin()
        self.as_root = os.geteuid() == 0
        # Under /tmp: a short path (a Unix socket's is at most 107 bytes) that the
        # postgres user can reach when we are root.
        self.root = Path(tempfile.mkdtemp(prefix="smsframe-pg-", dir=_short_tmp()))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if self.as_root:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.root, ignore_errors=True)
                raise Unavailable(
                    "running as root, PostgreSQL must run as the `postgres` user, and there "
                    f"is none; {INSTALL_HINT}"
                ) from None
            os.chown(self.root, owner.pw_uid, owner.pw_gid)

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the test database (psycopg 3, over the socket)."""
        return f"postgresql+psycopg://{USER}@/{DATABASE}?host={self.root}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root and shutil.which("runuser"):
            command = ["runuser", "-u", "postgres", "--", *command]
        elif self.as_root:
            command = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(command)]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env=os.environ | {"LC_ALL": "C", "TZ": "UTC"},
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise Unavailable(
                f"`{' '.join(command)}` failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{log[-3000:]}"
            )
        return result

    def start(self) -> Server:
        """initdb, start the server, create the database; cleans up if any step fails."""
        atexit.register(self.stop)  # also when the session ends without finalizers
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            USER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        )
        self._pg_ctl_start()
        with psycopg.connect(
            host=str(self.root), user=USER, dbname="postgres", autocommit=True
        ) as db:
            db.execute(f"CREATE DATABASE {DATABASE}")

    def kill(self) -> None:
        """Stop the server at once, as a crash would (``pg_ctl -m immediate``): every
        client is cut off; the data stays for :meth:`restart`."""
        self._run("pg_ctl", "stop", "--wait", "--pgdata", str(self.data), "-m", "immediate")

    def restart(self) -> None:
        """Start the server again on its data after :meth:`kill`."""
        self._pg_ctl_start()

    def _pg_ctl_start(self) -> None:
        options = " ".join(
            [
                "-c listen_addresses=''",  # no TCP at all
                f"-c unix_socket_directories='{self.root}'",
                "-c unix_socket_permissions=0700",
                "-c fsync=off",  # the machine does not crash: the OS keeps what was written
                f"-c synchronous_commit={'on' if self.durable else 'off'}",
                "-c full_page_writes=off",
                "-c max_connections=100",
                "-c shared_buffers=16MB",
                # Not UTC on purpose: the journal must not depend on the server's zone.
                "-c timezone=America/Sao_Paulo",
            ]
        )
        self._run(
            "pg_ctl",
            "start",
            "--wait",
            "--timeout",
            "60",
            "--pgdata",
            str(self.data),
            "--log",
            str(self.log),
            "-o",
            options,
            timeout=90,
        )

    def stop(self) -> None:
        """Stop the server (fast: clients are disconnected) and delete its directory."""
        try:
            for mode in ("fast", "immediate"):
                if not (self.data / "postmaster.pid").exists():
                    break
                try:
                    self._run("pg_ctl", "stop", "--wait", "--pgdata", str(self.data), "-m", mode)
                except (Unavailable, subprocess.TimeoutExpired) as error:
                    problem = error
                else:
                    break
            else:
                raise Unavailable(f"could not stop the test PostgreSQL server: {problem}")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            atexit.unregister(self.stop)


def _short_tmp() -> str | None:
    return "/tmp" if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK) else None


def create_database(url: str) -> tuple[str, str]:
    """Create a new database on the server of ``url``; returns its name and URL."""
    name = f"t{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_libpq(url), autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return name, url.replace(f"/{DATABASE}?", f"/{name}?")


def drop_database(url: str, name: str) -> None:
    """Drop database ``name``, disconnecting whoever still uses it."""
    with psycopg.connect(_libpq(url), autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq(url: str) -> str:
    """The libpq connection string of a SQLAlchemy URL of this module."""
    return url.replace("postgresql+psycopg://", "postgresql://")
