"""The HTTP edge (aiohttp): routes, one error table, the OpenAPI document."""
