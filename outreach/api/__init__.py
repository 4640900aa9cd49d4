"""The JSON API under /api/v1: bearer tokens, one route module per domain, an OpenAPI document."""
