"""The kit listener's certificates: a local CA and a server certificate, made with `openssl`.

    <stack>/mosquitto/tls/ca.pem         the CA kits verify the broker with
                                         (`airtrail kit provision` copies it onto each kit)
    <stack>/mosquitto/tls/ca.key         its key: never leaves this folder
    <stack>/mosquitto/tls/server.pem     the broker's certificate, signed by the CA,
    <stack>/mosquitto/tls/server.key     for the kit address

The CA is made once and kept, so kits provisioned earlier keep trusting the
broker; the server certificate is made again whenever the kit address
changes. The address goes into subjectAltName both as IP and as DNS entry:
OpenSSL (CPython) matches an IP address against the IP entry (RFC 6125
section 6.2.1 excludes the CN), while mbedtls builds before 3.6, which older
MicroPython firmware for the ESP32 carries, compare the server_hostname text
with the DNS entries only.
"""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path

from collector.errors import StackError

from .process import find_binary

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest validity that Apple's TLS clients accept, a common ceiling


class KitCertificates:
    """The four files above, in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca, self.ca_key = directory / "ca.pem", directory / "ca.key"
        self.cert, self.key = directory / "server.pem", directory / "server.key"
        self._address_file = directory / "server.address"  # the address the server certificate names

    def ensure(self, address: str) -> bool:
        """Make the CA if missing and a server certificate for ``address`` if it has none; True if anything was made."""
        made = False
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        if not (self.ca.exists() and self.ca_key.exists()):
            self._openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.ca_key, "-out", self.ca,
                          "-days", str(CA_DAYS), "-subj", "/O=airtrail/CN=airtrail local CA",
                          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
            self.cert.unlink(missing_ok=True)
            made = True
        current = self._address_file.read_text().strip() if self._address_file.exists() else None
        if made or current != address or not (self.cert.exists() and self.key.exists()):
            self._server_certificate(address)
            made = True
        return made

    def _server_certificate(self, address: str) -> None:
        try:
            ipaddress.ip_address(address)
            san = f"IP:{address},DNS:{address}"
        except ValueError:
            san = f"DNS:{address}"
        csr = self.directory / "server.csr"
        ext = self.directory / "server.ext"
        ext.write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        self._openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", csr,
                      "-subj", f"/O=airtrail/CN={address}")
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.ca_key, "-CAcreateserial",
                      "-out", self.cert, "-days", str(SERVER_DAYS), "-extfile", ext)
        csr.unlink()
        ext.unlink()
        self._address_file.write_text(address + "\n")
        for key in (self.ca_key, self.key):
            key.chmod(0o600)

    def _openssl(self, *args: object) -> None:
        command = [find_binary("openssl", "openssl"), *map(str, args)]
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            raise StackError(f"openssl could not make the kit listener's certificates in {self.directory}:\n{proc.stderr.strip()}")
