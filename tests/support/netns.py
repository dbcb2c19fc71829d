"""A two-host network made of Linux network namespaces, for tests that need a
kit address that is not loopback.

    with Network() as net:
        net.run_broker(["airtrail", "stack", "up", "--kit-address", net.broker_address])
        net.run_kit(["python", "kit.py"])

Two namespaces this test creates ("broker" and "kit"), joined by a veth pair:
broker side 10.213.<n>.1, kit side 10.213.<n>.2. All traffic stays inside
them; deleting the namespaces removes the pair. Needs root (CAP_NET_ADMIN) and
the `ip` command; ``unavailable()`` says why not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid


def unavailable() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = f"at-probe-{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class Network:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.broker_ns = f"at-broker-{tag}"
        self.kit_ns = f"at-kit-{tag}"
        subnet = int(tag[:2], 16)
        self.broker_address = f"10.213.{subnet}.1"
        self.kit_address = f"10.213.{subnet}.2"
        self._veth = (f"atb{tag}", f"atk{tag}")

    def __enter__(self) -> "Network":
        broker_if, kit_if = self._veth
        steps = [
            ["ip", "netns", "add", self.broker_ns],
            ["ip", "netns", "add", self.kit_ns],
            ["ip", "link", "add", broker_if, "netns", self.broker_ns, "type", "veth", "peer", "name", kit_if, "netns", self.kit_ns],
        ]
        for ns, dev, address in ((self.broker_ns, broker_if, self.broker_address), (self.kit_ns, kit_if, self.kit_address)):
            steps += [
                ["ip", "-n", ns, "link", "set", "lo", "up"],
                ["ip", "-n", ns, "addr", "add", f"{address}/24", "dev", dev],
                ["ip", "-n", ns, "link", "set", dev, "up"],
            ]
        try:
            for step in steps:
                subprocess.run(step, check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            self.__exit__()
            raise RuntimeError(f"{' '.join(exc.cmd)}: {exc.stderr.strip()}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        for ns in (self.broker_ns, self.kit_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def run(self, ns: str, argv: list[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout, **kw)

    def run_broker(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return self.run(self.broker_ns, argv, **kw)

    def run_kit(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        return self.run(self.kit_ns, argv, **kw)
