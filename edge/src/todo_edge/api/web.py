"""The web page: `/` (the app shell with its configuration inline) and `/static/…` (its CSS
and JavaScript modules, served from `todo_edge/web/` — no build step).

The page has its own Content-Security-Policy, set here; the request middleware adds its
conservative API policy only to responses that carry none. The page's policy allows scripts
from this origin and the ChatKit web component's script on OpenAI's CDN (which renders its UI
in a frame from the same CDN), and network calls to this origin only: the ChatKit component
reaches `/chatkit` through the page's own `fetch`. No inline script runs; the configuration is
an inert `application/json` block.
"""

from __future__ import annotations

import json
import mimetypes
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from starlette.responses import FileResponse, HTMLResponse, Response

from todo_edge.chatkit.composer import client_options
from todo_edge.problems import Problem, problem_response
from todo_edge.settings import EdgeSettings

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
STATIC_ROOT = WEB_ROOT / "static"

# The official ChatKit web component. The page loads it at run time and falls back to its own
# client when it cannot (offline, blocked).
CHATKIT_SCRIPT_URL = "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js"
CHATKIT_ORIGIN = "https://cdn.platform.openai.com"

PAGE_CSP = "; ".join(
    [
        "default-src 'none'",
        f"script-src 'self' {CHATKIT_ORIGIN}",
        # The ChatKit component injects its own <style> elements.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        f"frame-src {CHATKIT_ORIGIN}",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ]
)

# Only these kinds of files are served from /static.
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}

CONFIG_MARKER = "__TODO_CONFIG_JSON__"

router = APIRouter(include_in_schema=False)


def page_config(settings: EdgeSettings) -> dict[str, object]:
    """What the page needs to know about this deployment."""
    return {
        "chatkit": {
            "apiUrl": "/chatkit",
            "domainKey": settings.chatkit_domain_key,
            "scriptUrl": CHATKIT_SCRIPT_URL,
            # Start-screen prompts and composer tools (`chatkit/composer.py`).
            **client_options(),
        },
    }


@lru_cache(maxsize=1)
def _index_template() -> str:
    return (WEB_ROOT / "index.html").read_text(encoding="utf-8")


def render_index(settings: EdgeSettings) -> str:
    """index.html with the configuration inlined as JSON (`<` escaped so no value can close
    the script element)."""
    config = json.dumps(page_config(settings), separators=(",", ":")).replace("<", "\\u003c")
    return _index_template().replace(CONFIG_MARKER, config)


def _not_found() -> Response:
    return problem_response(Problem(404, "Not Found", "No such file.", "not-found"))


@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
async def index(request: Request) -> Response:
    """The app page."""
    settings: EdgeSettings = request.app.state.settings
    return HTMLResponse(
        render_index(settings),
        headers={
            "Content-Security-Policy": PAGE_CSP,
            # The page holds no personal data (that comes from the API), but it must change
            # with the deployment: revalidate every time.
            "Cache-Control": "no-cache",
        },
    )


@router.api_route("/static/{file_path:path}", methods=["GET", "HEAD"])
async def static_file(
    file_path: Annotated[str, PathParam(max_length=200)],
) -> Response:
    """A CSS/JS/image file of the page."""
    if "\x00" in file_path or "\\" in file_path:
        return _not_found()
    root = STATIC_ROOT.resolve()
    target = (root / file_path).resolve()
    suffix = target.suffix.lower()
    if not target.is_relative_to(root) or suffix not in STATIC_TYPES or not target.is_file():
        return _not_found()
    return FileResponse(
        target,
        media_type=STATIC_TYPES.get(suffix) or mimetypes.guess_type(target.name)[0],
        # ETag/Last-Modified come with the file; browsers revalidate (a cheap 304) so a new
        # deployment's modules are never mixed with stale ones.
        headers={"Cache-Control": "no-cache"},
    )
