"""Parse an auction request into the parameters its type uses.

Each type reads only its own parameters, with the defaults the API documents,
so a stored auction carries exactly the numbers its rules depend on.
"""

from __future__ import annotations

from typing import Any

from ..errors import invalid
from ..fields import Fields

TYPES = ("english", "dutch", "sealed_bid", "vickrey", "combinatorial")
MAX_ITEMS = 16  # winner determination is exponential in the number of items
MAX_DURATION_S = 10 * 365 * 86_400


def parse(body: Fields) -> dict[str, Any]:
    kind = body.choice("type", TYPES)
    spec: dict[str, Any] = {
        "type": kind,
        "seller": body.text("seller", None),
        "reserve_price": body.number("reserve_price", 0, lo=0),
        "duration_s": body.number("duration_s", 3600, gt=0, hi=MAX_DURATION_S),
    }
    if kind == "combinatorial":
        spec["items"] = body.text_list("items", max_len=MAX_ITEMS)
    else:
        spec["item"] = body.text("item")
    if kind == "english":
        spec["starting_price"] = body.number("starting_price", 0, lo=0)
        spec["min_increment"] = body.number("min_increment", 1, gt=0)
        spec["buy_now_price"] = body.number("buy_now_price", None, gt=0)
        if spec["buy_now_price"] is not None and spec["buy_now_price"] < spec["starting_price"]:
            raise invalid("buy_now_price", "at least starting_price")
    elif kind == "dutch":
        spec["starting_price"] = body.number("starting_price", gt=0)
        spec["decrement"] = body.number("decrement", gt=0)
        spec["tick_s"] = body.number("tick_s", 1, gt=0)
        spec["floor_price"] = body.number("floor_price", 0, lo=0)
        if spec["floor_price"] > spec["starting_price"]:
            raise invalid("floor_price", "at most starting_price")
    return spec
