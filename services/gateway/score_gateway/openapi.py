"""The OpenAPI 3 document, generated from the routes and the marshmallow schemas they name
(apispec), and a readable page of it that needs nothing from the internet."""
from __future__ import annotations

from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from jinja2 import Environment, PackageLoader, select_autoescape

from score_gateway.api import PREFIX, ROUTES

PROBLEM = {"type": "object", "description": "RFC 9457 problem details",
           "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                          "status": {"type": "integer"}, "detail": {"type": "string"},
                          "errors": {"type": "object", "description": "field -> reasons",
                                     "additionalProperties": {
                                         "type": "array", "items": {"type": "string"}}}}}
ERRORS = {"400": "malformed request", "401": "not signed in", "403": "role or scope refused",
          "404": "not found (or not yours)", "422": "refused: each field named, with why",
          "502": "a service could not answer"}


def _schema_name(schema) -> str:
    name = (schema if isinstance(schema, type) else type(schema)).__name__
    return name[:-6] if name.endswith("Schema") else name


@lru_cache(maxsize=1)
def document() -> dict:
    spec = APISpec(title="SCORE platform API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
                   info={"description": "One API for programme coordinators, trainers, "
                                        "partners and ops of the ILO SCORE programme."})
    spec.components.schema("Problem", PROBLEM)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("partnerKey", {"type": "apiKey", "in": "header",
                                                   "name": "X-API-Key"})
    paths: dict[str, dict] = {}
    for route in ROUTES:
        operation = {"summary": route.summary, "tags": [route.tag],
                     "operationId": route.name, "responses": {}}
        if route.description:
            operation["description"] = route.description
        parameters = [{"name": name, "in": "path", "required": True,
                       "schema": {"type": "string"}} for name in route.path_parameters]
        for query in route.query:
            schema = {"type": query.type}
            if query.enum:
                schema["enum"] = list(query.enum)
            for bound in ("minimum", "maximum"):
                if getattr(query, bound) is not None:
                    schema[bound] = getattr(query, bound)
            parameters.append({"name": query.name, "in": "query", "required": False,
                               "schema": schema, "description": query.description})
        if parameters:
            operation["parameters"] = parameters
        if route.body is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": route.body}}}
        if route.response is not None:
            item = route.response
            body = {"type": "array", "items": item} if route.many else item
            if route.paginated:
                body = {"type": "object", "properties": {
                    "total": {"type": "integer"}, "limit": {"type": "integer"},
                    "offset": {"type": "integer"},
                    "items": {"type": "array", "items": item}}}
            content = {"application/json": {"schema": body}}
        else:
            content = {route.content_type: {"schema": {"type": "object"}}} \
                if route.content_type == "application/json" else {
                    route.content_type: {"schema": {"type": "string"}}}
        operation["responses"][str(route.status)] = {"description": "success",
                                                     "content": content}
        codes = ["400", "422", "502"] + (["401", "403"] if route.roles else []) + \
            (["404"] if route.path_parameters else []) + list(route.problems)
        for code in sorted(set(codes)):
            operation["responses"][code] = {"description": ERRORS[code], "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        if route.roles:
            operation["security"] = [{"bearer": []}] + (
                [{"partnerKey": []}] if "partner" in route.roles else [])
            operation["x-roles"] = list(route.roles)
        paths.setdefault(route.openapi_path, {})[route.method.lower()] = operation
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def html() -> str:
    environment = Environment(loader=PackageLoader("score_gateway", "templates"),
                              autoescape=select_autoescape(default=True))
    spec = document()
    return environment.get_template("docs.html.j2").render(spec=spec, prefix=PREFIX)
