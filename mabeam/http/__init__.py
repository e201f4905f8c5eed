"""The node's HTTP/JSON API (docs/api.md), on aiohttp."""
