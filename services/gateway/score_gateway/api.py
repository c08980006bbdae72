"""The edge's routes: each one an HTTP entrypoint, the roles it admits and what the OpenAPI
document says of it, declared in one place (`route`)."""
from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass, field

from nameko.exceptions import RemoteError
from nameko.web.handlers import http

from score_common.errors import NotFound, Refused
from score_common.http import problem, read_body
from score_gateway.auth import Forbidden, Unauthenticated

log = logging.getLogger("score.gateway")

PREFIX = "/api/v1"
BODY_LIMIT = 2_000_000
MAX_LIMIT = 200


@dataclass(frozen=True)
class Query:
    name: str
    type: str = "string"  # OpenAPI type
    description: str = ""
    enum: tuple = ()
    minimum: int | None = None
    maximum: int | None = None


@dataclass
class Route:
    method: str
    path: str  # werkzeug syntax, under PREFIX
    roles: tuple[str, ...]  # empty: public
    summary: str
    tag: str
    body: type | None = None  # a marshmallow schema class
    response: type | None = None
    many: bool = False
    paginated: bool = False
    query: tuple[Query, ...] = ()
    status: int = 200
    content_type: str = "application/json"
    description: str = ""
    problems: tuple[str, ...] = ()  # more problem statuses than the defaults
    name: str = field(default="")

    @property
    def openapi_path(self) -> str:
        return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", PREFIX + self.path)

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.path)


ROUTES: list[Route] = []
PAGE_QUERY = (Query("limit", "integer", f"page size, at most {MAX_LIMIT} (default 50)",
                    minimum=1, maximum=MAX_LIMIT),
              Query("offset", "integer", "items to skip (default 0)", minimum=0))
MODULE_QUERY = Query("module", "integer", "a SCORE module, 1 to 5", enum=(1, 2, 3, 4, 5))


def route(method: str, path: str, *, roles=(), summary: str, tag: str, **details):
    """Declare an API route: an HTTP entrypoint that authenticates, checks the role and turns
    the services' refusals into problem details."""
    spec = Route(method, path, tuple(roles), summary, tag, **details)
    if spec.paginated:
        spec.query = spec.query + PAGE_QUERY

    def decorate(function):
        spec.name = function.__name__
        spec.description = spec.description or (function.__doc__ or "").strip()
        ROUTES.append(spec)

        @functools.wraps(function)
        def entrypoint(self, request, **kwargs):
            try:
                principal = self.authenticate(request) if spec.roles else None
                if principal is not None and principal.role not in spec.roles:
                    raise Forbidden(f"a {principal.role} may not {spec.summary[0].lower()}"
                                    f"{spec.summary[1:]}")
                if spec.body is not None:
                    raw = read_body(request, BODY_LIMIT)
                    if raw is None:
                        return problem(413, "too-large", "Request body too large")
                    try:
                        kwargs["body"] = json.loads(raw or b"null")
                    except ValueError as exc:
                        return problem(400, "bad-json", "The body is not JSON", str(exc))
                    if not isinstance(kwargs["body"], dict):
                        return problem(422, "invalid", "The body must be a JSON object",
                                       errors={"_schema": ["must be a JSON object"]})
                return function(self, request, principal, **kwargs)
            except Unauthenticated as exc:
                return problem(401, "unauthenticated", "Sign in first", str(exc),
                               headers={"WWW-Authenticate": 'Bearer realm="score"'})
            except Forbidden as exc:
                return problem(403, "forbidden", "Not allowed", str(exc))
            except Refused as exc:
                return problem(422, "invalid", "The request was refused",
                               "each field named in errors says why", errors=exc.errors)
            except NotFound as exc:
                return problem(404, "not-found", "Not found", str(exc))
            except RemoteError as exc:
                log.warning("%s %s: a service failed: %s", method, path, exc)
                return problem(502, "upstream", "A service could not answer", exc.exc_type)

        return http(method, PREFIX + path)(entrypoint)

    return decorate


def page_of(request) -> tuple[int, int]:
    """limit and offset from the query, or Refused naming the bad one."""
    errors, values = {}, {}
    for name, default in (("limit", 50), ("offset", 0)):
        text = request.args.get(name)
        try:
            values[name] = default if text in (None, "") else int(text)
        except ValueError:
            errors[name] = ["must be a whole number"]
            continue
        if values[name] < 0 or (name == "limit" and not 1 <= values[name] <= MAX_LIMIT):
            errors[name] = [f"must be 1 to {MAX_LIMIT}" if name == "limit"
                            else "must not be negative"]
    if errors:
        raise Refused(errors)
    return values["limit"], values["offset"]


def module_of(request) -> int | None:
    """The `module` filter of a list, or Refused naming it."""
    text = request.args.get("module")
    if text in (None, ""):
        return None
    if not text.isdigit():
        raise Refused({"module": ["must be a module number, 1 to 5"]})
    return int(text)


def paginate(items: list, request) -> dict:
    limit, offset = page_of(request)
    return {"total": len(items), "limit": limit, "offset": offset,
            "items": items[offset:offset + limit]}
