"""The API explorer at ``/docs``: Swagger UI served from this server, never from a CDN.

Swagger UI's files (``swagger-ui-bundle.js``, ``swagger-ui.css``, ``favicon-32x32.png`` of the
npm package ``swagger-ui-dist``) are copied by the console's build into ``api-docs/`` beside
its ``index.html`` (``web/dist/api-docs/``) and served at ``/api-docs/…``. The page holds no
inline script or style: Swagger UI is started by ``/docs/swagger-init.js``, so it runs under
the console's strict Content-Security-Policy (this origin only, no inline script, no eval).
ReDoc (FastAPI's ``/redoc``) loads from a CDN and is not served.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from kindred.api.console import HEADERS
from kindred.errors import NotFound

ASSETS_PATH = "/api-docs"
INIT_PATH = "/docs/swagger-init.js"
# The files of swagger-ui-dist the page uses (the build copies these into api-docs/).
ASSET_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{init}"></script>
</body>
</html>
"""

# No validator badge (it would send the document to validator.swagger.io), deep links, and
# the bearer token kept across reloads of the page.
_INIT = """window.ui = SwaggerUIBundle({{
  url: {url},
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
}});
"""


class _Assets(StaticFiles):
    async def get_response(self, path: str, scope: dict) -> Response:  # type: ignore[override]
        response = await super().get_response(path, scope)
        # Names without a content hash: revalidated (ETag) so an upgrade shows at once.
        response.headers["Cache-Control"] = "no-cache"
        response.headers.update(HEADERS)
        return response


def install_api_docs(app: FastAPI, console_dir: Path) -> None:
    """Serve ``/docs`` and its assets from ``console_dir/api-docs`` (the console's build)."""
    directory = console_dir / "api-docs"
    if directory.is_dir():
        app.mount(ASSETS_PATH, _Assets(directory=directory), name="api-docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def docs() -> Response:
        missing = [name for name in ASSET_FILES if not (directory / name).is_file()]
        if missing:
            raise NotFound(
                "the API explorer is not built here: run `bash scripts/setup` (npm ci and the "
                f"console build copies Swagger UI into {directory}); the OpenAPI document is "
                f"at {openapi_url}"
            )
        page = _PAGE.format(title=escape(app.title), assets=ASSETS_PATH, init=INIT_PATH)
        return HTMLResponse(page, headers={**HEADERS, "Cache-Control": "no-cache"})

    @app.get(INIT_PATH, include_in_schema=False)
    def swagger_init() -> Response:
        return Response(
            _INIT.format(url=json.dumps(openapi_url)),
            media_type="text/javascript",
            headers={**HEADERS, "Cache-Control": "no-cache"},
        )
