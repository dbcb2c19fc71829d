"""Run a server binary as a background process we can find again.

Each service keeps its config, data, log and pid file in its own folder, so
``stack up`` in one shell and ``stack down`` in another find the same process,
and a test can run a private copy on other ports in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from pathlib import Path

from collector.errors import StackError

# Debian installs daemons in /usr/sbin, which is not on a normal user's PATH.
_EXTRA_PATHS = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def find_binary(name: str, package: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_EXTRA_PATHS))
    if not found:
        raise StackError(
            f"{name} is not installed. Install the Debian package '{package}': "
            f"sudo apt-get install {package}   (or run `make setup`)"
        )
    return found


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists"; reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


class Service(ABC):
    name: str
    binary: str
    package: str

    def __init__(self, directory: Path, port: int) -> None:
        self.dir = directory
        self.port = port

    @property
    def pid_file(self) -> Path:
        return self.dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / f"{self.name}.log"

    @abstractmethod
    def write_config(self) -> list[str]:
        """Write config files; return the command line to run."""

    @abstractmethod
    def healthy(self) -> bool:
        """True when the service answers on its port."""

    def after_start(self) -> None:
        """Hook for first-start work (create a database...)."""

    def ports(self) -> list[int]:
        return [self.port]

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, timeout: float = 30.0) -> None:
        if self.running():
            return
        binary = find_binary(self.binary, self.package)
        for port in self.ports():
            if port_in_use(port):
                raise StackError(
                    f"port {port} on 127.0.0.1 is already in use, so {self.name} cannot start. "
                    f"Stop whatever uses it (`ss -ltnp 'sport = :{port}'` shows what) or choose another port "
                    "in airtrail.toml [stack]"
                )
        self.dir.mkdir(parents=True, exist_ok=True)
        command = [binary, *self.write_config()]
        log = open(self.log_file, "ab")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StackError(f"{self.name} exited at start (code {process.returncode}). Its log says:\n{self.log_tail()}")
            if self.healthy():
                self.after_start()
                return
            time.sleep(0.05)
        self.stop()
        raise StackError(f"{self.name} did not answer within {timeout:.0f} s. Its log says:\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0, sig: int = signal.SIGTERM) -> None:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pid_alive(pid):
            time.sleep(0.05)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            while pid_alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)

    def signal(self, sig: int) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, sig)
        return True

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
