"""Who may call the API: an optional bearer key, and the browser origins CORS lets in.

With a key, the API routes (``/v1/*``) answer 401 to a request without
``Authorization: Bearer <key>``; ``/healthz`` and the OpenAPI schema and docs stay open (they
describe the API, hold no data and run no model). Without ``cors_origins`` the server sends no
CORS headers at all, so browsers keep other sites' scripts from reading its answers. The threat
model is in ``docs/server.md``.

No message here, error or log, ever quotes a key: not the server's, not one a client offered.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection

from sam3lib.errors import InputError

API_KEY_ENV = "SAM3LIB_API_KEY"
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or wrong API key; the answer has WWW-Authenticate: Bearer"}
}
# scheme://host[:port] and nothing after: a browser's Origin header never has a path or a
# trailing slash, so "https://app.example.com/" would silently never match.
_ORIGIN = re.compile(r"https?://[^/?#\s]+")


def check_api_key(key: str, source: str = "api_key") -> str:
    """``key`` if it can be a bearer key: not empty, visible ASCII only (no spaces).

    Args:
        key: the key.
        source: where it came from, for the message (``--api-key``, a file, a variable).

    Raises:
        InputError: the key is empty or has a space, a control or a non-ASCII character;
            the message names ``source``, never the key.

    Example:
        >>> check_api_key("s3cr3t-token")
        's3cr3t-token'
    """
    if not isinstance(key, str) or not key:
        raise InputError(f"{source}: the API key is empty; give a non-empty key, or none")
    if not all("!" <= character <= "~" for character in key):
        raise InputError(
            f"{source}: the API key may hold only visible ASCII characters "
            "(no spaces, line breaks or accents)"
        )
    return key


def read_api_key_file(path: Path) -> str:
    """The key in ``path``: the file's text without surrounding whitespace (a final newline).

    Raises:
        InputError: the file cannot be read, is not UTF-8 text, or holds no valid key; the
            message names the file, never its contents.

    Example:
        >>> read_api_key_file(Path("/run/secrets/sam3lib_api_key"))  # doctest: +SKIP
        's3cr3t-token'
    """
    source = f"--api-key-file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        # Not str(error): it quotes the offending bytes, a piece of the key.
        raise InputError(f"{source}: not UTF-8 text") from None
    except OSError as error:
        raise InputError(f"{source}: cannot read it ({error.strerror or 'error'})") from None
    return check_api_key(text.strip(), source)


def resolve_api_key(flag: str | None, file: Path | None, environ: Mapping[str, str]) -> str | None:
    """The server's key: ``--api-key``, else ``--api-key-file``, else ``$SAM3LIB_API_KEY``.

    Returns:
        The key, or None when none of the three is given (the API is open).

    Raises:
        InputError: the chosen key is not valid. A variable that is set but empty is an
            error too, not "no key": ``SAM3LIB_API_KEY=$UNSET_VAR`` must not open the API.

    Example:
        >>> resolve_api_key(None, None, {"SAM3LIB_API_KEY": "from-env"})
        'from-env'
        >>> resolve_api_key("from-flag", None, {"SAM3LIB_API_KEY": "from-env"})
        'from-flag'
    """
    if flag is not None:
        return check_api_key(flag, "--api-key")
    if file is not None:
        return read_api_key_file(file)
    if API_KEY_ENV in environ:
        return check_api_key(environ[API_KEY_ENV], API_KEY_ENV)
    return None


def check_cors_origins(origins: Sequence[str]) -> list[str]:
    """``origins`` as a list, each ``scheme://host[:port]`` (or ``*``: every origin).

    Raises:
        InputError: one string instead of a list, or an origin with a path, a trailing
            slash or no ``http(s)://``.

    Example:
        >>> check_cors_origins(["https://app.example.com", "http://localhost:3000"])
        ['https://app.example.com', 'http://localhost:3000']
    """
    if isinstance(origins, str):
        raise InputError(f"cors_origins: expected a list of origins, got one string {origins!r}")
    for origin in origins:
        if origin != "*" and not (isinstance(origin, str) and _ORIGIN.fullmatch(origin)):
            raise InputError(
                f"CORS origin {origin!r}: expected scheme://host[:port] with no path or "
                "trailing slash, e.g. https://app.example.com"
            )
    return list(origins)


def api_key_dependencies(api_key: str | None) -> list[Any]:
    """Route dependencies that refuse requests without the bearer ``api_key``; none if None.

    The dependency runs before the endpoint reads the body, so a caller without the key
    cannot make the server buffer an upload or decode an image. Declared as an HTTP bearer
    scheme, it also gives the docs page an "Authorize" button.

    Example:
        >>> router = APIRouter(dependencies=api_key_dependencies("s3cr3t"))  # doctest: +SKIP
    """
    if api_key is None:
        return []
    return [Depends(_ApiKeyBearer(check_api_key(api_key)))]


def add_cors(app: FastAPI, origins: Sequence[str], custom_headers: Sequence[str]) -> None:
    """Answer CORS preflights and tag answers for exactly ``origins``; nothing if empty.

    Args:
        app: the application.
        origins: allowed origins (:func:`check_cors_origins`).
        custom_headers: non-standard headers clients send and read (the request id).
    """
    allowed = check_cors_origins(origins)
    if not allowed:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=allowed,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", *custom_headers],
        # Beyond the CORS-safelisted ones, scripts can read only the headers listed here.
        expose_headers=["Retry-After", "WWW-Authenticate", *custom_headers],
        # Bearer keys are sent by scripts explicitly; no cookies are ever needed.
        allow_credentials=False,
    )


class _ApiKeyBearer(HTTPBearer):
    """FastAPI's bearer scheme (so the schema declares it), checking the key it was given."""

    def __init__(self, api_key: str) -> None:
        # Not auto_error: its 401 says "Not authenticated"; ours says what to send.
        super().__init__(
            scheme_name="apiKey",
            description="the key the server was started with",
            auto_error=False,
        )
        self._expected = api_key.encode("utf-8")

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials:
        credentials = await super().__call__(request)
        if credentials is None:
            raise _unauthorized("missing API key: send the header 'Authorization: Bearer <key>'")
        # compare_digest takes as long for a near miss as for a wild guess.
        if not hmac.compare_digest(credentials.credentials.encode("utf-8"), self._expected):
            raise _unauthorized("wrong API key")
        return credentials


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})
