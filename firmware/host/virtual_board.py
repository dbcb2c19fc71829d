"""A virtual MicroPython board behind a pseudo-terminal, for mpremote without hardware.

    with VirtualBoard(dump_to=tmp / "flash") as board:
        subprocess.run(["mpremote", "connect", board.port, "fs", "ls"])
    # tmp / "flash" now holds the board's filesystem

``virtual_board.mjs`` runs MicroPython's WebAssembly port under Node and
drives its REPL byte by byte from stdin (see that file for where the port
differs from a board). This side opens a pseudo-terminal pair: the slave end
(``/dev/pts/N``) is the "USB serial port" that mpremote, pyserial or
`airtrail kit provision --port` open; a thread pumps bytes between the master
end and Node's stdin/stdout. Closing Node's stdin ends the board, which first
writes its filesystem to ``dump_to``.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import threading
import tempfile
import tty
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import KitError

SCRIPT = Path(__file__).with_name("virtual_board.mjs")
ROOT = Path(__file__).resolve().parents[2]
NPM_PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"


class VirtualBoardError(KitError):
    pass


def available() -> str | None:
    """None when a virtual board can run here, else what to install."""
    if shutil.which("node") is None:
        return "Node.js is not installed: run `make setup` (or apt-get install nodejs npm)"
    if not NPM_PACKAGE.is_dir():
        return "the MicroPython WebAssembly port is not installed: run `make setup` (npm ci)"
    return None


class VirtualBoard:
    def __init__(self, mounts: dict[Path, str] | None = None, dump_to: Path | None = None, heap_bytes: int = 2 * 1024 * 1024) -> None:
        self.mounts = mounts or {}
        self.dump_to = dump_to
        self.heap_bytes = heap_bytes
        self.port = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._master = self._slave = -1
        self._pump: threading.Thread | None = None
        self._stop_r, self._stop_w = -1, -1
        self._stderr: Any = None

    def start(self) -> VirtualBoard:
        missing = available()
        if missing:
            raise VirtualBoardError(missing)
        args = ["node", str(SCRIPT), "--heap", str(self.heap_bytes)]
        for host, board in self.mounts.items():
            args += ["--mount", f"{Path(host).resolve()}={board}"]
        if self.dump_to is not None:
            args += ["--dump", str(self.dump_to)]
        self._master, self._slave = os.openpty()
        # Raw from the start: no echo or newline translation before a client
        # (pyserial) opens the port and sets its own modes. The slave stays
        # open here so the master does not read EIO between clients.
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        # Node's own errors (a crash of the board itself) go to a file, read
        # back into the exception stop() raises.
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, cwd=ROOT, bufsize=0
        )
        self._stop_r, self._stop_w = os.pipe()
        self._pump = threading.Thread(target=self._run_pump, name="virtual-board-pump", daemon=True)
        self._pump.start()
        return self

    def _run_pump(self) -> None:
        assert self._proc is not None and self._proc.stdin is not None and self._proc.stdout is not None
        board_out = self._proc.stdout.fileno()
        board_in = self._proc.stdin.fileno()
        while True:
            ready, _, _ = select.select([self._master, board_out, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            if self._master in ready:
                try:
                    data = os.read(self._master, 4096)
                except OSError:
                    data = b""
                if data:
                    try:
                        os.write(board_in, data)
                    except BrokenPipeError:
                        return
            if board_out in ready:
                data = os.read(board_out, 4096)
                if not data:
                    return  # the board exited
                view = memoryview(data)
                while view:
                    view = view[os.write(self._master, view):]

    def stop(self, timeout: float = 30) -> None:
        """End the board; its filesystem is written to ``dump_to`` first."""
        if self._proc is None:
            return
        if self._stop_w >= 0:
            os.write(self._stop_w, b"x")
        if self._pump is not None:
            self._pump.join(timeout)
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        for fd in (self._master, self._slave, self._stop_r, self._stop_w):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = self._stop_r = self._stop_w = -1
        code = self._proc.returncode
        self._proc = None
        self._stderr.seek(0)
        errors = self._stderr.read().decode(errors="replace")
        self._stderr.close()
        if code != 0:
            raise VirtualBoardError(f"the virtual board exited with status {code}: {errors[-2000:]}")

    def __enter__(self) -> VirtualBoard:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
