"""A per-instance client for a Toxiproxy 2.x API, built on toxiproxy-python.

toxiproxy-python is the required client library, but as published (0.1.1) it
has quirks a fault layer cannot live with; this wrapper keeps its transport
(``APIConsumer``) and exception types and fixes the rest:

* host/port are class attributes of ``APIConsumer`` (one server per process):
  every ``ToxiproxyClient`` gets its own ``APIConsumer`` subclass, so two
  clients never redirect each other;
* no request timeouts: every call passes ``timeout``;
* every 409 is ``ProxyExists``: the body is read and a duplicate toxic raises
  ``ToxicExists`` (both are ``Conflict``; ``ProxyExists`` still subclasses the
  library's, so library-style ``except`` clauses keep working);
* no toxic update: ``update_toxic`` sends PATCH directly, validated by the
  library's ``validate_response``;
* ``add_toxic`` returned nothing and ``create`` did an extra GET first: here
  every call is one request and returns what the server answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol, cast
from urllib.parse import quote, urlsplit

import orjson
import requests
from toxiproxy import api as _tp_api
from toxiproxy import exceptions as _tp_exc

__all__ = [
    "BadRequest",
    "Conflict",
    "NotFound",
    "ProxyExists",
    "ProxyInfo",
    "ToxicExists",
    "ToxicInfo",
    "ToxiproxyClient",
    "ToxiproxyError",
    "ToxiproxyUnavailable",
]


class ToxiproxyError(Exception):
    """An error answer (or no answer) from the Toxiproxy API."""

    def __init__(self, message: str, status: int | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


class ToxiproxyUnavailable(ToxiproxyError):
    """The API could not be reached (refused, timed out)."""


class Conflict(ToxiproxyError):
    """409: something with that name already exists."""


class ProxyExists(Conflict, _tp_exc.ProxyExists):
    """409 on a proxy name."""


class ToxicExists(Conflict):
    """409 on a toxic name (toxiproxy-python would have said ProxyExists)."""


class NotFound(ToxiproxyError, _tp_exc.NotFound):
    """404: no such proxy or toxic."""


class BadRequest(ToxiproxyError, _tp_exc.InvalidToxic):
    """400: the request was malformed; ``field`` names the culprit when known."""


@dataclass(frozen=True)
class ToxicInfo:
    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict) -> ToxicInfo:
        return cls(
            data["name"],
            data["type"],
            data.get("stream", "downstream"),
            float(data.get("toxicity", 1.0)),
            dict(data.get("attributes") or {}),
        )


@dataclass(frozen=True)
class ProxyInfo:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[ToxicInfo, ...] = ()

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @classmethod
    def from_json(cls, data: dict) -> ProxyInfo:
        toxics = tuple(ToxicInfo.from_json(t) for t in data.get("toxics") or ())
        return cls(data["name"], data["listen"], data["upstream"], bool(data["enabled"]), toxics)


def _q(name: str) -> str:
    """Names go into URL paths: escape anything that is not a plain path character."""
    return quote(name, safe="")


#: Go's ``json.UnmarshalTypeError``: "... into Go struct field LatencyToxic.attributes.latency of type int64".
_GO_FIELD = re.compile(r"into Go struct field [\w.\[\]*]*?\.?((?:attributes\.)?\w+) of type")


def _field_of(message: str) -> str | None:
    """Pull the field name out of Toxiproxy-style 400 messages (the real server's and the embedded one's)."""
    go = _GO_FIELD.search(message)
    if go:
        return go.group(1).lower()
    for prefix in ("missing required field: ", "bad request body: "):
        if message.startswith(prefix):
            rest = message[len(prefix) :]
            head = rest.split(":", 1)[0].split(" at proxy")[0].strip()
            # "bad request body: EOF", "... json: cannot unmarshal ...": the body as a whole
            return head if re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", head) and head != "json" else "body"
    if message.startswith("stream was invalid"):
        return "stream"
    if message.startswith("invalid toxic type"):
        return "type"
    return None


def _decode_error(content: bytes, status: int) -> tuple[str, int]:
    try:
        data = orjson.loads(content)
        return str(data.get("error", content.decode(errors="replace"))), int(data.get("status", status))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return content.decode(errors="replace").strip() or f"HTTP {status}", status


class _Consumer(Protocol):
    """The classmethods used of toxiproxy-python's ``APIConsumer`` (the package ships no types).

    Each returns the ``requests`` response after ``validate_response`` raised
    the library's exception for a 400, 404 or 409.
    """

    def get(self, url: str, params: Any = None, **kwargs: Any) -> requests.Response: ...

    def delete(self, url: str, **kwargs: Any) -> requests.Response: ...

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> requests.Response: ...


class ToxiproxyClient:
    """Talk to one Toxiproxy API; safe to have many, for different servers."""

    def __init__(self, url: str = "http://127.0.0.1:8474", timeout: float = 5.0) -> None:
        if "://" not in url:
            url = "http://" + url
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 8474
        self.url = f"{parts.scheme}://{parts.netloc}".rstrip("/")
        self.timeout = timeout
        # The per-instance fix: a private subclass carries this client's address.
        # cast: type() only says "a class"; this one is an APIConsumer subclass,
        # whose classmethods are what _Consumer describes.
        self._api = cast(_Consumer, type("APIConsumer", (_tp_api.APIConsumer,), {"host": self.host, "port": self.port}))

    def __repr__(self) -> str:
        return f"ToxiproxyClient({self.url!r}, timeout={self.timeout})"

    # ------------------------------------------------------------------ transport
    def _request(self, method: str, path: str, json=None) -> requests.Response:
        try:
            if method == "GET":
                resp = self._api.get(path, timeout=self.timeout)
            elif method == "DELETE":
                resp = self._api.delete(path, timeout=self.timeout)
            elif method == "POST":
                resp = self._api.post(path, json=json, timeout=self.timeout)
            else:  # PATCH: toxiproxy-python has no verb for it
                resp = _tp_api.validate_response(
                    requests.request(method, self.url + path, json=json, timeout=self.timeout)
                )
        except requests.RequestException as exc:
            raise ToxiproxyUnavailable(f"{method} {self.url}{path}: {exc}") from exc
        except _tp_exc.ProxyExists as exc:
            message, status = _decode_error(exc.args[0] if exc.args else b"", 409)
            cls = ToxicExists if "toxic" in message else ProxyExists
            raise cls(message, status, "name") from None
        except _tp_exc.NotFound as exc:
            message, status = _decode_error(exc.args[0] if exc.args else b"", 404)
            raise NotFound(message, status) from None
        except _tp_exc.InvalidToxic as exc:
            message, status = _decode_error(exc.args[0] if exc.args else b"", 400)
            raise BadRequest(message, status, _field_of(message)) from None
        if resp.status_code >= 400:
            message, status = _decode_error(resp.content, resp.status_code)
            raise ToxiproxyError(message, status)
        return resp

    def _json(self, method: str, path: str, json=None):
        return orjson.loads(self._request(method, path, json).content)

    # ------------------------------------------------------------------ server
    def version(self) -> str:
        """The server's version string (JSON ``{"version"}`` or older plain text)."""
        text = self._request("GET", "/version").text.strip()
        try:
            return str(orjson.loads(text)["version"])
        except (orjson.JSONDecodeError, TypeError, KeyError):
            return text

    def reset(self) -> None:
        """Re-enable every proxy and remove every toxic."""
        self._request("POST", "/reset")

    def populate(self, proxies: list[dict]) -> list[ProxyInfo]:
        """Create or replace proxies in one call (POST /populate)."""
        data = self._json("POST", "/populate", list(proxies))
        return [ProxyInfo.from_json(p) for p in data.get("proxies") or ()]

    # ------------------------------------------------------------------ proxies
    def proxies(self) -> dict[str, ProxyInfo]:
        return {name: ProxyInfo.from_json(p) for name, p in self._json("GET", "/proxies").items()}

    def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0", enabled: bool = True) -> ProxyInfo:
        body = {"name": name, "upstream": upstream, "listen": listen, "enabled": enabled}
        return ProxyInfo.from_json(self._json("POST", "/proxies", body))

    def get_proxy(self, name: str) -> ProxyInfo:
        return ProxyInfo.from_json(self._json("GET", f"/proxies/{_q(name)}"))

    def update_proxy(
        self, name: str, *, listen: str | None = None, upstream: str | None = None, enabled: bool | None = None
    ) -> ProxyInfo:
        body = {k: v for k, v in (("listen", listen), ("upstream", upstream), ("enabled", enabled)) if v is not None}
        return ProxyInfo.from_json(self._json("PATCH", f"/proxies/{_q(name)}", body))

    def enable(self, name: str) -> ProxyInfo:
        return self.update_proxy(name, enabled=True)

    def disable(self, name: str) -> ProxyInfo:
        """Take the proxy down: live connections are closed, new ones refused."""
        return self.update_proxy(name, enabled=False)

    def delete_proxy(self, name: str) -> None:
        self._request("DELETE", f"/proxies/{_q(name)}")

    # ------------------------------------------------------------------ toxics
    def toxics(self, proxy: str) -> list[ToxicInfo]:
        return [ToxicInfo.from_json(t) for t in self._json("GET", f"/proxies/{_q(proxy)}/toxics")]

    def get_toxic(self, proxy: str, toxic: str) -> ToxicInfo:
        return ToxicInfo.from_json(self._json("GET", f"/proxies/{_q(proxy)}/toxics/{_q(toxic)}"))

    def add_toxic(
        self,
        proxy: str,
        type: str,
        *,
        stream: str = "downstream",
        name: str | None = None,
        toxicity: float = 1.0,
        **attributes,
    ) -> ToxicInfo:
        """Add a toxic; attributes are keyword arguments (``latency=100``)."""
        body = {"type": type, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        if name is not None:
            body["name"] = name
        return ToxicInfo.from_json(self._json("POST", f"/proxies/{_q(proxy)}/toxics", body))

    def update_toxic(self, proxy: str, toxic: str, *, toxicity: float | None = None, **attributes) -> ToxicInfo:
        """Change a toxic in place (PATCH); applies to live connections too."""
        body: dict = {"attributes": attributes}
        if toxicity is not None:
            body["toxicity"] = toxicity
        return ToxicInfo.from_json(self._json("PATCH", f"/proxies/{_q(proxy)}/toxics/{_q(toxic)}", body))

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        self._request("DELETE", f"/proxies/{_q(proxy)}/toxics/{_q(toxic)}")
