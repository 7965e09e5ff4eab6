"""The browser console: the built web app (``web/dist``) served at ``/`` by the API process.

The app is a single page: ``/assets/…`` are Vite's content-hashed files (cached for a year),
every other non-API path answers ``index.html`` (never cached) so that deep links and
reloads land in the app; ``/passport``, where a customer's emailed sign-in link leads, is
not even stored. Nothing is fetched from elsewhere: the Content-Security-Policy
allows this origin only, no inline scripts, no ``eval``. Without a build (a checkout where
``scripts/setup`` did not run ``npm ci`` and the build), ``/`` answers a problem saying so.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from kindred.errors import NotFound

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Paths the API process answers itself: never the console's index.
RESERVED = ("api/", "docs", "redoc", "openapi.json", "healthz", "metrics", ".well-known/")


def default_console_dir() -> Path:
    """``web/dist`` of the checkout this package runs from (src layout, editable install)."""
    return Path(__file__).resolve().parents[3] / "web" / "dist"


class _Assets(StaticFiles):
    async def get_response(self, path: str, scope: dict) -> Response:  # type: ignore[override]
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            # Content-hashed names: a new build has new names, so these never go stale.
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        response.headers.update(HEADERS)
        return response


def install_console(app: FastAPI, directory: Path) -> None:
    """Serve the built console from ``directory``: ``/`` and every unmatched page path.

    Deep links are answered from the not-found path rather than a catch-all route, so an
    unknown API path stays a 404 problem (a catch-all would turn a POST to it into a 405).
    """
    index = directory / "index.html"
    assets = directory / "assets"
    if assets.is_dir():
        app.mount("/assets", _Assets(directory=assets), name="console-assets")

    def page() -> Response:
        if not index.is_file():
            raise NotFound(
                "the web console is not built here: run `bash scripts/setup` (npm ci and the "
                f"build), or point KINDRED_CONSOLE_DIR at a built console (looked in {directory})"
            )
        return FileResponse(index, headers={**HEADERS, "Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    def console_root() -> Response:
        return page()

    @app.get("/passport", include_in_schema=False)
    def passport_page() -> Response:
        """The customer's passport page, where emailed sign-in links lead (no staff session
        needed). Its URL carries the link's token until the page removes it: never stored."""
        response = page()
        response.headers["Cache-Control"] = "no-store"
        return response

    problem = app.exception_handlers[StarletteHTTPException]

    async def not_found(request: Request, error: Exception) -> Response:
        path = request.url.path.lstrip("/")
        if (
            isinstance(error, StarletteHTTPException)
            and error.status_code == 404
            and request.method in ("GET", "HEAD")
            and not path.startswith(RESERVED)
            and "." not in path.rsplit("/", 1)[-1]  # a file that does not exist stays 404
            and index.is_file()
        ):
            return page()
        answer = problem(request, error)
        return await answer if inspect.isawaitable(answer) else answer

    app.exception_handlers[StarletteHTTPException] = not_found
