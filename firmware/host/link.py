"""A kit on a USB serial port, driven through mpremote's raw-REPL transport.

    with KitLink("/dev/ttyUSB0") as kit:
        kit.write("/config.json", data)
        print(kit.eval("1 + 1"))

Entering the link interrupts the kit's main program (Ctrl-C) and takes the
raw REPL: the kit's queue cannot change while we copy or edit it. It does NOT
soft-reset the kit first (mpremote's default): main.py answers Ctrl-C by
"parking" the ESP32's watchdog, which cannot be stopped once started, on a
machine.Timer that keeps feeding it, and a soft reset deinitialises every
timer, so the watchdog would hard-reset the kit a minute later, in the middle
of a long pull. Leaving the link returns to the friendly REPL; restart()
soft-reboots the kit into main.py, which starts over with a fresh watchdog.

Every file is written to ``<path>.tmp``, read back (SHA-256 on the kit) and
only then renamed over ``<path>``: a cable pulled mid-copy leaves the old file,
never half a .mpy that would stop the kit from booting.

mpremote's errors (TransportError, OSError from the kit) become LinkError with
a message that says what to try.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import KitError, require

# Bytes per exec round trip. mpremote's default is 256; a bigger chunk means
# fewer round trips, and 1 KB (about 4 KB of repr on the wire) is still small
# next to an ESP32's heap.
CHUNK = 1024

Progress = Callable[[int, int], None]  # (done bytes, total bytes)


class LinkError(KitError):
    pass


def for_file(progress: Callable[[str, int, int], None] | None, path: str) -> Progress | None:
    """A (done, total) callback for one file from a (path, done, total) one."""
    if progress is None:
        return None
    report = progress

    def file_progress(done: int, total: int) -> None:
        report(path, done, total)

    return file_progress


def serial_ports() -> list[str]:
    try:
        from serial.tools import list_ports
    except ImportError:  # pragma: no cover - pyserial is a dependency
        return []
    return sorted(p.device for p in list_ports.comports())


def _port_hint() -> str:
    ports = serial_ports()
    return f"serial ports on this computer: {', '.join(ports)}" if ports else "no serial ports are visible on this computer"


class KitLink:
    def __init__(self, port: str, baud: int = 115200, soft_reset: bool = False) -> None:
        """``soft_reset=True`` starts from a fresh interpreter: only for a kit without a running watchdog."""
        self.port = port
        self.baud = baud
        self.soft_reset = soft_reset
        self._t: Any = None

    # -- connection --------------------------------------------------------

    def __enter__(self) -> KitLink:
        require("mpremote", "mpremote", "provision` or `airtrail kit pull")
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        if not self.port.startswith(("socket://", "rfc2217://")) and not os.path.exists(self.port):
            raise LinkError(
                f"there is no serial port {self.port}: plug the kit in with a USB cable that carries data "
                f"(some are charge-only) and pass its port with --port ({_port_hint()})"
            )
        try:
            self._t = SerialTransport(self.port, baudrate=self.baud)
        except TransportError as exc:
            raise LinkError(
                f"cannot open {self.port} ({exc}): close any other program using it (a serial monitor, Thonny, "
                "another mpremote); on Linux, add yourself to the dialout group and log in again"
            ) from None
        try:
            self._t.enter_raw_repl(soft_reset=self.soft_reset)
        except (TransportError, OSError) as exc:
            self._t.close()
            self._t = None
            raise LinkError(
                f"the device on {self.port} does not answer like MicroPython ({exc}): flash MicroPython first with "
                "`airtrail kit flash`, or press the kit's reset button and try again"
            ) from None
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._t is None:
            return
        try:
            self._t.exit_raw_repl()
        except Exception:  # noqa: BLE001 - the port may be gone already; closing must not mask the first error
            pass
        self._t.close()
        self._t = None

    def restart(self) -> None:
        """Soft-reboot the kit so it runs boot.py and main.py, then let go of the port."""
        if self._t is None:
            return
        self._t.exit_raw_repl()
        self._t.serial.write(b"\x04")  # Ctrl-D in the friendly REPL: soft reboot into main.py
        self._t.serial.flush()
        self._t.close()
        self._t = None

    # -- code --------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from mpremote.transport import TransportError, TransportExecError

        try:
            return fn(*args, **kwargs)
        except TransportExecError as exc:
            raise LinkError(f"the kit failed to {what}:\n{exc.error_output.strip()}") from None
        except TransportError as exc:
            raise LinkError(f"lost the kit on {self.port} while trying to {what} ({exc}): check the cable and retry") from None
        except OSError as exc:
            raise LinkError(f"the kit failed to {what}: {exc}") from None

    def exec(self, code: str) -> str:
        return self._call("run code", self._t.exec, code).decode(errors="replace")

    def eval(self, expression: str) -> Any:
        return self._call(f"evaluate {expression}", self._t.eval, expression)

    def mpy_version(self) -> tuple[int, int]:
        """The .mpy format this kit's MicroPython loads, e.g. (6, 3)."""
        self.exec("import sys")
        value = self.eval("getattr(sys.implementation, '_mpy', 0)")
        return value & 0xFF, (value >> 8) & 3

    # -- files -------------------------------------------------------------

    def stat(self, path: str) -> os.stat_result | None:
        from mpremote.transport import TransportError

        try:
            return self._t.fs_stat(path)  # type: ignore[no-any-return]
        except OSError:
            return None
        except TransportError as exc:
            raise LinkError(f"lost the kit on {self.port} ({exc}): check the cable and retry") from None

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def is_dir(self, path: str) -> bool:
        st = self.stat(path)
        return st is not None and bool(st.st_mode & 0x4000)

    def listdir(self, path: str) -> list[str]:
        return sorted(entry.name for entry in self._call(f"list {path}", self._t.fs_listdir, path))

    def makedirs(self, path: str) -> None:
        parts = [p for p in path.split("/") if p]
        for i in range(1, len(parts) + 1):
            sub = "/" + "/".join(parts[:i])
            if not self.is_dir(sub):
                self._call(f"create the folder {sub}", self._t.fs_mkdir, sub)

    def remove(self, path: str) -> None:
        self._call(f"remove {path}", self._t.fs_rmfile, path)

    def read(self, path: str, progress: Progress | None = None) -> bytes:
        return bytes(self._call(f"read {path}", self._t.fs_readfile, path, chunk_size=CHUNK, progress_callback=progress))

    def sha256(self, path: str) -> bytes:
        return self._call(f"hash {path}", self._t.fs_hashfile, path, "sha256")  # type: ignore[no-any-return]

    def write(self, path: str, data: bytes, progress: Progress | None = None) -> None:
        """Write ``data`` to ``path`` on the kit, verified, replacing any old file atomically."""
        tmp = path + ".tmp"
        self._call(f"write {path}", self._t.fs_writefile, tmp, data, chunk_size=CHUNK, progress_callback=progress)
        if self.sha256(tmp) != hashlib.sha256(data).digest():
            raise LinkError(f"{path} did not arrive intact on the kit (checksum differs): check the cable and retry")
        self.exec(f"import os\nos.rename({tmp!r}, {path!r})")

    def fetch(self, path: str, dest: Path, progress: Progress | None = None) -> bytes:
        """Copy ``path`` from the kit to ``dest``, verified against the kit's SHA-256; returns the bytes."""
        data = self.read(path, progress)
        if self.sha256(path) != hashlib.sha256(data).digest():
            raise LinkError(f"{path} did not arrive intact from the kit (checksum differs): check the cable and retry")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        return data
