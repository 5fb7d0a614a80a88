"""The shapes of other hosted APIs: same paths, fields, answers and error bodies, so a
client switches by changing its base URL. Every shape goes through the same pipeline as
the native API (:class:`streams.gateway.service.Gateway`); each module is one shape."""

from __future__ import annotations

from streams.gateway.routes.compat import artworks, jobs, rembg, remove, remove_bg

ROUTERS = (remove_bg.router, artworks.router, remove.router, jobs.router, rembg.router)
