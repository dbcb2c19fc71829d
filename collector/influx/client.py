"""InfluxDB I/O: a writer per transport behind one interface, and InfluxQL queries.

    Writer.write(body)   store newline-separated line protocol (precision µs);
                         raises InfluxUnavailable (retry later: spool) or
                         InfluxRejected (the points themselves are refused)
    Writer.ping()        True when the server answers
    InfluxQL.query(q)    run InfluxQL over /query and return the series

Transports:
    V1Writer   POST /write          InfluxDB 1.x, and the 1.x compatibility API
                                    of 2.x (DBRP mapping) and 3.x
    V2Writer   POST /api/v2/write   through influxdb-client, synchronous mode:
                                    InfluxDB 1.8+, 2.x, 3.x, Cloud
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from collector.errors import InfluxRejected, InfluxUnavailable
from collector.settings import InfluxSettings

from .lineproto import PRECISION

# A 4xx for these statuses is about the points (malformed, type conflict, too
# large): bisecting the batch finds the culprits. Any other 4xx (401, 403, 404
# database not found) is a configuration problem: the data is fine, so it is
# kept in the spool until the operator fixes the setup.
_DATA_STATUSES = {400, 413, 422}


def _classify_status(status: int, body: str, url: str) -> Exception:
    if status in _DATA_STATUSES:
        return InfluxRejected(f"InfluxDB at {url} refused the points (HTTP {status}): {body.strip()[:300]}", status, body)
    hint = {
        401: "check influx.username/password or influx.token",
        403: "the credentials may not write to this database",
        404: "create the database (airtrail stack up does) or check influx.database / influx.bucket",
    }.get(status, "retrying later")
    return InfluxUnavailable(f"InfluxDB at {url} answered HTTP {status} ({body.strip()[:200]}); {hint}", status, body)


class Writer(Protocol):
    def write(self, body: bytes) -> None: ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...


def _auth(settings: InfluxSettings) -> tuple[dict[str, str], httpx.BasicAuth | None]:
    headers: dict[str, str] = {}
    auth = None
    if settings.token is not None:
        headers["Authorization"] = f"Token {settings.token.get_secret_value()}"
    elif settings.username:
        password = settings.password.get_secret_value() if settings.password else ""
        auth = httpx.BasicAuth(settings.username, password)
    return headers, auth


class V1Writer:
    def __init__(self, settings: InfluxSettings) -> None:
        self.url = settings.url.rstrip("/")
        headers, auth = _auth(settings)
        self._http = httpx.Client(base_url=self.url, headers=headers, auth=auth, timeout=settings.timeout_s)
        self._params = {"db": settings.database, "precision": PRECISION}
        if settings.retention_policy:
            self._params["rp"] = settings.retention_policy

    def write(self, body: bytes) -> None:
        try:
            response = self._http.post("/write", params=self._params, content=body)
        except httpx.HTTPError as exc:
            raise InfluxUnavailable(f"cannot reach InfluxDB at {self.url}: {exc}") from exc
        if response.status_code >= 300:
            raise _classify_status(response.status_code, response.text, self.url)

    def ping(self) -> bool:
        try:
            return self._http.get("/ping", timeout=2).status_code < 300
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._http.close()


class V2Writer:
    def __init__(self, settings: InfluxSettings) -> None:
        from influxdb_client import InfluxDBClient, WritePrecision
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.url = settings.url.rstrip("/")
        token = settings.token.get_secret_value() if settings.token else ""
        if not token and settings.username:
            # InfluxDB 1.8's v2 compatibility takes "user:password" as the token.
            token = f"{settings.username}:{settings.password.get_secret_value() if settings.password else ''}"
        self._bucket = settings.bucket or settings.database
        self._org = settings.org or "-"
        # retries=False: the collector's spool is the retry policy; a client
        # that retries (or, in batching mode, drops after retrying) hides faults.
        self._client = InfluxDBClient(
            url=self.url, token=token, org=self._org, timeout=int(settings.timeout_s * 1000), retries=False
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)
        self._precision = WritePrecision.US

    def write(self, body: bytes) -> None:
        from influxdb_client.rest import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            self._api.write(bucket=self._bucket, org=self._org, record=body, write_precision=self._precision)
        except ApiException as exc:
            raise _classify_status(exc.status or 0, str(exc.body or exc.reason), self.url) from exc
        except (Urllib3Error, OSError) as exc:
            raise InfluxUnavailable(f"cannot reach InfluxDB at {self.url}: {exc}") from exc

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except Exception:  # ping() raises whatever urllib3 raises; all mean "down"
            return False

    def close(self) -> None:
        self._client.close()


def make_writer(settings: InfluxSettings) -> Writer:
    return V2Writer(settings) if settings.transport == "v2" else V1Writer(settings)


class InfluxQL:
    """InfluxQL over /query: InfluxDB 1.x, 2.x (through DBRP mappings) and 3.x."""

    def __init__(self, settings: InfluxSettings) -> None:
        self.url = settings.url.rstrip("/")
        self.database = settings.database
        headers, auth = _auth(settings)
        self._http = httpx.Client(base_url=self.url, headers=headers, auth=auth, timeout=settings.timeout_s)

    def query(self, q: str, *, write: bool = False, epoch: str | None = "u") -> list[dict[str, Any]]:
        """Run one statement; return its series as dicts with name, tags, columns, values."""
        params = {"db": self.database, "q": q}
        if epoch:
            params["epoch"] = epoch
        try:
            response = (self._http.post if write else self._http.get)("/query", params=params)
        except httpx.HTTPError as exc:
            raise InfluxUnavailable(f"cannot reach InfluxDB at {self.url}: {exc}") from exc
        if response.status_code == 400:
            raise InfluxRejected(f"InfluxQL error: {response.text.strip()[:300]} (query: {q})", 400, response.text)
        if response.status_code >= 300:
            raise _classify_status(response.status_code, response.text, self.url)
        try:
            results = response.json().get("results", [])
        except (ValueError, AttributeError) as exc:
            raise InfluxRejected(f"{self.url}/query did not answer InfluxQL JSON (is this an InfluxDB?): {response.text[:200]!r}") from exc
        series: list[dict[str, Any]] = []
        for result in results:
            if "error" in result:
                raise InfluxRejected(f"InfluxQL error: {result['error']} (query: {q})")
            series.extend(result.get("series", []))
        return series

    def create_database(self) -> None:
        self.query(f'CREATE DATABASE "{self.database}"', write=True, epoch=None)

    def close(self) -> None:
        self._http.close()


def quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
