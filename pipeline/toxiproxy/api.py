"""Toxiproxy 2.x's HTTP API on aiohttp, over a ``ToxiproxyServer``.

Status codes and shapes follow Toxiproxy's ``api.go``: 201 for a created
proxy and for populate, 200 for a created/updated toxic, 204 for deletes and
reset, 404/409 for missing/duplicate names and 400 with
``{"error": ..., "status": 400}`` for a bad body.  POST and PATCH both update
a proxy or toxic (Toxiproxy accepts both; POST is its deprecated spelling).

Bodies are read as Toxiproxy's Go decoder reads them (``gojson``).  Toxiproxy
sets no size limit (20 MiB measured); this server takes up to
``MAX_BODY`` bytes and answers a larger body with a 413 in the API's error
shape, so one runaway request cannot eat the CI machine's memory.
"""

from __future__ import annotations

import logging

import orjson
from aiohttp import web

from . import gojson
from .errors import ApiError
from .server import VERSION, ToxiproxyServer

log = logging.getLogger("pipeline.toxiproxy.api")

_JSON = "application/json"
SERVER_KEY = web.AppKey("toxiproxy", ToxiproxyServer)
#: Largest request body read (aiohttp's default of 1 MiB is far below what Toxiproxy takes).
MAX_BODY = 64 << 20


def _json(data, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=_JSON)


def _error(exc: ApiError) -> web.Response:
    return _json(exc.to_json(), exc.status)


async def _body(request: web.Request):
    """The request's first JSON value (``None`` for a ``null`` body); 400 ``EOF`` if empty."""
    return gojson.decode(await request.read())


@web.middleware
async def _errors(request: web.Request, handler):
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        # Toxiproxy refuses browsers so a web page cannot poke the local API.
        return web.Response(status=403, text="User agent not allowed\n")
    try:
        return await handler(request)
    except ApiError as exc:
        return _error(exc)
    except web.HTTPRequestEntityTooLarge as exc:
        message = f"bad request body: larger than {MAX_BODY} bytes, the most this server reads"
        return _json({"error": message, "status": exc.status}, exc.status)
    except web.HTTPNotFound:
        # No route: Toxiproxy's router (gorilla/mux) answers Go's plain NotFound page.
        return web.Response(status=404, text="404 page not found\n")
    except web.HTTPMethodNotAllowed:
        return web.Response(status=405)  # gorilla/mux: the status, no body
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _json({"error": exc.reason.lower(), "status": exc.status}, exc.status)
        raise
    except Exception as exc:  # noqa: BLE001 - the API must answer, not die
        log.exception("internal error on %s %s", request.method, request.path)
        return _json({"error": str(exc), "status": 500}, 500)


def _srv(request: web.Request) -> ToxiproxyServer:
    return request.app[SERVER_KEY]


async def proxy_index(request):
    proxies = _srv(request).proxies
    return _json({name: proxies[name].to_json() for name in sorted(proxies)})  # Go sorts map keys


async def proxy_create(request):
    proxy = await _srv(request).create_proxy(await _body(request))
    return _json(proxy.to_json(), 201)


async def populate(request):
    srv = _srv(request)
    proxies, err = await srv.populate(await _body(request))
    payload = {"proxies": [p.to_json() for p in proxies]}
    if err is not None:
        payload = {**err.to_json(), **payload}
        return _json(payload, err.status)
    return _json(payload, 201)


async def proxy_show(request):
    return _json(_srv(request).get_proxy(request.match_info["proxy"]).to_json())


async def proxy_update(request):
    proxy = await _srv(request).update_proxy(request.match_info["proxy"], await _body(request))
    return _json(proxy.to_json())


async def proxy_delete(request):
    await _srv(request).delete_proxy(request.match_info["proxy"])
    return web.Response(status=204)


async def toxic_index(request):
    proxy = _srv(request).get_proxy(request.match_info["proxy"])
    return _json([t.to_json() for t in proxy.toxic_list()])


async def toxic_create(request):
    toxic = await _srv(request).add_toxic(request.match_info["proxy"], await _body(request))
    return _json(toxic.to_json())


async def toxic_show(request):
    proxy = _srv(request).get_proxy(request.match_info["proxy"])
    return _json(proxy.get_toxic(request.match_info["toxic"]).to_json())


async def toxic_update(request):
    m = request.match_info
    toxic = await _srv(request).update_toxic(m["proxy"], m["toxic"], await _body(request))
    return _json(toxic.to_json())


async def toxic_delete(request):
    m = request.match_info
    await _srv(request).remove_toxic(m["proxy"], m["toxic"])
    return web.Response(status=204)


async def reset(request):
    await _srv(request).reset()
    return web.Response(status=204)


async def version(request):
    return web.Response(
        text=orjson.dumps({"version": VERSION}).decode() + "\n",
        content_type=_JSON,
        charset="utf-8",
    )


def make_app(server: ToxiproxyServer) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY)
    app[SERVER_KEY] = server
    r = app.router
    r.add_post("/reset", reset)
    r.add_get("/proxies", proxy_index, allow_head=False)
    r.add_post("/proxies", proxy_create)
    r.add_post("/populate", populate)
    r.add_get("/proxies/{proxy}", proxy_show, allow_head=False)
    r.add_post("/proxies/{proxy}", proxy_update)
    r.add_patch("/proxies/{proxy}", proxy_update)
    r.add_delete("/proxies/{proxy}", proxy_delete)
    r.add_get("/proxies/{proxy}/toxics", toxic_index, allow_head=False)
    r.add_post("/proxies/{proxy}/toxics", toxic_create)
    r.add_get("/proxies/{proxy}/toxics/{toxic}", toxic_show, allow_head=False)
    r.add_post("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    r.add_patch("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    r.add_delete("/proxies/{proxy}/toxics/{toxic}", toxic_delete)
    r.add_get("/version", version, allow_head=False)
    return app
