"""docker-compose.yml, .env.example, the Dockerfile and the setup scripts compose runs.

Checked against the single source of truth for configuration,
libs/score-common/score_common/config.py (SERVICES, ENV_VARS).
"""
from __future__ import annotations

import base64
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml

from score_common.config import ENV_VAR_NAMES, ENV_VARS, SERVICES, mongodb_database

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
INIT_USERS_JS = REPO_ROOT / "deploy" / "mongodb" / "init-users.js"
SETUP_USERS_PY = REPO_ROOT / "deploy" / "rabbitmq" / "setup_users.py"

REQUIRED_VARS = sorted(v.name for v in ENV_VARS if v.deploy_required)
INFRASTRUCTURE = {"rabbitmq", "mongodb", "rabbitmq-setup", "mongodb-setup", "edge-proxy"}

# Compose interpolation: $$ is a literal $, then ${NAME}, ${NAME:-default}, ${NAME-default},
# ${NAME:?error}, ${NAME?error}, ${NAME:+alt}, ${NAME+alt}, and bare $NAME.
_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


# ---------------------------------------------------------------------------------------------
# helpers


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert "=" in line, f"{path.name}:{number}: not KEY=VALUE: {line!r}"
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip()
    return values


def interpolate(text: str, env: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["bare"]
        op, arg = match["op"], match["arg"]
        value = env.get(name)
        unset_or_empty = value is None or (value == "" and op and op.startswith(":"))
        if op in (":-", "-"):
            return arg if unset_or_empty else value
        if op in (":?", "?"):
            if unset_or_empty:
                raise KeyError(f"{name}: {arg}")
            return value
        if op in (":+", "+"):
            return "" if unset_or_empty else arg
        return value or ""

    return _INTERPOLATION.sub(replace, text)


def references(text: str) -> list[re.Match]:
    return [m for m in _INTERPOLATION.finditer(text) if not m["escaped"]]


def strings_in(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings_in(key)
            yield from strings_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings_in(item)


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def resolved_environment(service_name: str) -> dict[str, str]:
    """A service's environment with ${...} filled in from .env.example."""
    example = read_env_file(ENV_EXAMPLE)
    return {key: interpolate(value, example)
            for key, value in environment(load_compose()["services"][service_name]).items()}


def depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def healthcheck_command(service: dict) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test")
    assert test, "no healthcheck"
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    return list(test)


def python_snippet(command: list[str]) -> str:
    """The code of a `python -c <code>` healthcheck."""
    assert command[0] == "CMD", f"expected exec form ['CMD', ...], got {command[0]}"
    assert command[1] in ("python", "python3") and command[2] == "-c", command
    return command[3]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, rest = full.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def final_stage(instructions):
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def build_stage(instructions):
    froms = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    return instructions[froms[0]:froms[-1]] if len(froms) > 1 else instructions


def with_password(uri: str, donor: str) -> str:
    """uri with the password of donor."""
    return uri.replace(f":{urlsplit(uri).password}@", f":{urlsplit(donor).password}@", 1)


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True,
                               check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone:
        probe = subprocess.run([standalone, "version"], capture_output=True, text=True,
                               check=False)
        if probe.returncode == 0 and "v1." not in probe.stdout.split("version", 1)[-1][:8]:
            return [standalone]
    return None


def clean_environ() -> dict[str, str]:
    """The process environment without anything that would change how compose resolves."""
    referenced = {m["braced"] or m["bare"]
                  for text in strings_in(load_compose()) for m in references(text)}
    return {key: value for key, value in os.environ.items()
            if key not in referenced and not key.startswith("COMPOSE_")}


# ---------------------------------------------------------------------------------------------
# the five services


def test_services_are_exactly_the_configured_ones_plus_infrastructure():
    names = set(load_compose()["services"])
    assert names - INFRASTRUCTURE == set(SERVICES), (
        f"missing: {set(SERVICES) - names}, unexpected: {names - INFRASTRUCTURE - set(SERVICES)}")
    assert INFRASTRUCTURE <= names


@pytest.mark.parametrize("name", SERVICES)
def test_service_is_built_from_the_shared_dockerfile(name):
    service = load_compose()["services"][name]
    build = service["build"]
    assert build["context"] == "."
    assert build["dockerfile"] == "deploy/docker/Dockerfile"
    assert (REPO_ROOT / build["context"] / build["dockerfile"]).is_file()
    assert build["args"] == {"SCORE_SERVICE": name}
    # Each service needs its own image name, or the five builds overwrite one another.
    assert f"score-{name}" in service["image"]


@pytest.mark.parametrize("name", SERVICES)
def test_service_gets_every_deploy_required_variable(name):
    env = environment(load_compose()["services"][name])
    missing = [var for var in REQUIRED_VARS if not env.get(var)]
    assert not missing, f"{name} lacks {missing}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_sets_only_variables_the_code_reads(name):
    unknown = set(environment(load_compose()["services"][name])) - ENV_VAR_NAMES
    assert not unknown, f"{name} sets {sorted(unknown)}, not declared in score_common.config"


@pytest.mark.parametrize("name", SERVICES)
def test_service_listens_on_all_interfaces_and_uses_classic_queues(name):
    env = resolved_environment(name)
    assert env["SCORE_HTTP_ADDRESS"] == "0.0.0.0:8000"
    assert env.get("SCORE_QUEUE_TYPE", "classic") == "classic"


@pytest.mark.parametrize("name", SERVICES)
def test_mongodb_uri_names_own_database_and_own_user(name):
    uri = resolved_environment(name)["MONGODB_URI"]
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert parts.scheme == "mongodb"
    assert parts.hostname == "mongodb" and parts.port == 27017
    assert unquote(parts.username) == name
    assert parts.password
    assert parts.path == f"/score_{name}"
    assert query.get("authSource") == [f"score_{name}"]
    assert mongodb_database(uri, name) == f"score_{name}"


@pytest.mark.parametrize("name", SERVICES)
def test_amqp_uri_uses_own_user_and_the_score_vhost(name):
    parts = urlsplit(resolved_environment(name)["AMQP_URI"])
    assert parts.scheme == "amqp"
    assert parts.hostname == "rabbitmq" and parts.port == 5672
    assert unquote(parts.username) == name
    assert parts.password
    assert parts.path == "/score"


def test_no_two_services_share_credentials():
    compose = load_compose()
    seen_variables: dict[str, str] = {}
    seen_passwords: dict[str, str] = {}
    for name in SERVICES:
        raw = environment(compose["services"][name])
        resolved = resolved_environment(name)
        for var in ("AMQP_URI", "MONGODB_URI"):
            where = f"{name}.{var}"
            for match in references(raw[var]):
                variable = match["braced"] or match["bare"]
                assert variable not in seen_variables, (
                    f"{where} and {seen_variables[variable]} both use ${{{variable}}}")
                seen_variables[variable] = where
            password = urlsplit(resolved[var]).password
            assert password not in seen_passwords, (
                f"{where} has the same password as {seen_passwords[password]}")
            seen_passwords[password] = where


@pytest.mark.parametrize("name", SERVICES)
def test_service_healthcheck_gets_health_on_port_8000(name):
    service = load_compose()["services"][name]
    code = python_snippet(healthcheck_command(service))
    compile(code, f"{name} healthcheck", "exec")
    assert "urllib.request" in code
    assert re.search(r"http://(127\.0\.0\.1|localhost):8000/health\b", code), code
    check = service["healthcheck"]
    assert not check.get("disable")
    for key in ("interval", "timeout", "retries", "start_period"):
        assert key in check, f"{name} healthcheck has no {key}"


class _FakeHealth(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(self.status if self.path == "/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status, healthy", [(200, True), (503, False)])
def test_service_healthcheck_exit_code_follows_the_health_status(status, healthy):
    code = python_snippet(healthcheck_command(load_compose()["services"][SERVICES[0]]))
    handler = type("Handler", (_FakeHealth,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        local = code.replace("127.0.0.1:8000", f"127.0.0.1:{server.server_address[1]}")
        result = subprocess.run([sys.executable, "-c", local], capture_output=True, timeout=30,
                                check=False)
    finally:
        server.shutdown()
        server.server_close()
    assert (result.returncode == 0) is healthy, result.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_service_can_be_scaled(name):
    service = load_compose()["services"][name]
    # A fixed name, a host port or a hostname would collide between replicas of --scale.
    assert "container_name" not in service
    assert "ports" not in service
    assert "hostname" not in service
    assert service.get("restart") in ("always", "unless-stopped", "on-failure")


@pytest.mark.parametrize("name", SERVICES)
def test_service_waits_for_healthy_broker_and_database(name):
    deps = depends_on(load_compose()["services"][name])
    assert deps.get("rabbitmq") == "service_healthy"
    assert deps.get("mongodb") == "service_healthy"
    # And for its users to exist, or its first connections are refused.
    assert deps.get("rabbitmq-setup") == "service_completed_successfully"
    assert deps.get("mongodb-setup") == "service_completed_successfully"


# ---------------------------------------------------------------------------------------------
# broker and database


def test_rabbitmq_service():
    compose = load_compose()
    rabbitmq = compose["services"]["rabbitmq"]
    assert rabbitmq["image"].startswith("rabbitmq:3.13-management")
    assert healthcheck_command(rabbitmq) == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    published = {str(port).rsplit(":", 1)[-1] for port in rabbitmq["ports"]}
    assert {"5672", "15672"} <= published
    # The node name, and with it the data directory, follows the hostname.
    assert rabbitmq.get("hostname") == "rabbitmq"
    assert any(str(v).split(":")[0] in compose.get("volumes", {}) for v in rabbitmq["volumes"])
    env = environment(rabbitmq)
    assert env["RABBITMQ_DEFAULT_USER"] and env["RABBITMQ_DEFAULT_PASS"]


def test_mongodb_service():
    compose = load_compose()
    mongodb = compose["services"]["mongodb"]
    assert mongodb["image"] == "mongo:7"
    command = healthcheck_command(mongodb)
    assert command[:2] == ["CMD", "mongosh"] and "ping" in " ".join(command)
    data_volumes = [str(v) for v in mongodb["volumes"] if str(v).endswith(":/data/db")]
    assert data_volumes, "the data directory must be on a volume"
    assert data_volumes[0].split(":")[0] in compose.get("volumes", {}), "expected a named volume"
    env = environment(mongodb)
    for var in ("MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"):
        assert ":?" in env[var], f"{var} must fail loudly when .env does not set it"
    assert "ports" not in mongodb, "the database is for the services only"


def test_mongodb_setup_creates_users_from_the_services_own_uris():
    compose = load_compose()
    setup = compose["services"]["mongodb-setup"]
    assert depends_on(setup) == {"mongodb": "service_healthy"}
    assert setup.get("restart") == "no"
    mounts = [str(v) for v in setup["volumes"]]
    assert any(m.startswith("./deploy/mongodb/init-users.js:") for m in mounts)
    target = next(m for m in mounts if m.startswith("./deploy/mongodb/init-users.js:"))
    assert target.split(":")[1] in " ".join(setup["command"])
    env = environment(setup)
    for name in SERVICES:
        assert env[f"{name.upper()}_MONGODB_URI"] == environment(
            compose["services"][name])["MONGODB_URI"]


def test_rabbitmq_setup_creates_users_from_the_services_own_uris():
    compose = load_compose()
    setup = compose["services"]["rabbitmq-setup"]
    assert depends_on(setup) == {"rabbitmq": "service_healthy"}
    assert setup.get("restart") == "no"
    mounts = [str(v) for v in setup["volumes"]]
    target = next(m for m in mounts if m.startswith("./deploy/rabbitmq/setup_users.py:"))
    assert target.split(":")[1] in setup["command"]
    env = environment(setup)
    assert env["RABBITMQ_ADMIN_USER"] == environment(compose["services"]["rabbitmq"])[
        "RABBITMQ_DEFAULT_USER"]
    assert urlsplit(env["RABBITMQ_MANAGEMENT_URL"]).hostname == "rabbitmq"
    for name in SERVICES:
        assert env[f"{name.upper()}_AMQP_URI"] == environment(compose["services"][name])["AMQP_URI"]


# ---------------------------------------------------------------------------------------------
# .env.example and the secrets around it


def test_every_variable_compose_uses_is_in_env_example():
    example = read_env_file(ENV_EXAMPLE)
    used = {m["braced"] or m["bare"] for text in strings_in(load_compose())
            for m in references(text)}
    missing = sorted(name for name in used if not example.get(name))
    assert not missing, f"referenced in docker-compose.yml but not set in .env.example: {missing}"


def test_variables_without_a_default_fail_loudly():
    # A bare ${PASSWORD} would silently become "" when .env lacks it.
    for text in strings_in(load_compose()):
        for match in references(text):
            assert match["op"] in (":-", "-", ":?", "?"), (
                f"${{{match['braced'] or match['bare']}}} needs a default or a :? message")


def test_env_example_passwords_are_url_safe_and_distinct():
    example = read_env_file(ENV_EXAMPLE)
    passwords = {k: v for k, v in example.items() if k.endswith("PASSWORD")}
    assert len(passwords) >= 2 * len(SERVICES) + 2
    for key, value in passwords.items():
        assert re.fullmatch(r"[A-Za-z0-9._~-]{8,}", value), f"{key} is not URL-safe: {value!r}"
    assert len(set(passwords.values())) == len(passwords), "example passwords must differ"


def test_real_env_file_is_ignored_by_git():
    git = shutil.which("git")
    if git is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run([git, "check-ignore", "-q", ".env"], cwd=REPO_ROOT, check=False)
    assert result.returncode == 0, ".env (real secrets) must be listed in .gitignore"


def test_dockerignore_keeps_secrets_and_history_out_of_the_build_context():
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "expected an allow-list (first pattern '*')"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert allowed == {"requirements.txt", "libs", "services"}


# ---------------------------------------------------------------------------------------------
# the Dockerfile


def test_dockerfile_builds_the_service_named_by_the_build_arg():
    instructions = dockerfile_instructions()
    text = "\n".join(f"{k} {v}" for k, v in instructions)
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M) or re.search(
        r"^FROM python:3\.11-slim\b", text, re.M)
    build = build_stage(instructions)
    assert ("ARG", "SCORE_SERVICE") in build
    runs = [args for keyword, args in build if keyword == "RUN"]
    requirements = next(i for i, r in enumerate(runs) if "pip install -r requirements.txt" in r)
    local = next(i for i, r in enumerate(runs) if "pip install --no-deps" in r)
    assert requirements < local, "pinned requirements must be installed first"
    assert 'packages="./services/${SCORE_SERVICE}"' in runs[local]
    assert re.search(r"\./libs/score-common\s+\$packages", runs[local])
    # the gateway's image carries the packages whose commands its OpenAPI document describes
    assert re.search(r'"\$\{SCORE_SERVICE\}" = gateway.*\./services/enrollment', runs[local])
    copies = [args for keyword, args in build if keyword == "COPY"]
    assert any(c.split()[0] == "services" for c in copies)


def test_dockerfile_runs_score_service_as_non_root():
    final = final_stage(dockerfile_instructions())
    assert ("ARG", "SCORE_SERVICE") in final, "the build arg must reach the final stage"
    env = " ".join(args for keyword, args in final if keyword == "ENV")
    assert "SCORE_SERVICE=${SCORE_SERVICE}" in env
    user = [args for keyword, args in final if keyword == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    expose = [args for keyword, args in final if keyword == "EXPOSE"]
    assert "8000" in " ".join(expose)
    cmd = json.loads([args for keyword, args in final if keyword == "CMD"][-1])
    assert cmd[:2] == ["sh", "-c"] and cmd[2].startswith("exec score-service ")
    assert '"$SCORE_SERVICE"' in cmd[2]
    healthcheck = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    options, _, command = healthcheck[-1].partition(" CMD ")
    code = python_snippet(["CMD", *json.loads(command)])
    compile(code, "Dockerfile healthcheck", "exec")
    assert "/health" in code and ":8000" in code


def test_score_service_command_is_provided_by_score_common():
    pyproject = tomllib.loads((REPO_ROOT / "libs" / "score-common" / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["score-service"] == "score_common.cli:main"


@pytest.mark.parametrize("name", SERVICES)
def test_build_context_has_what_the_dockerfile_copies(name):
    assert (REPO_ROOT / "requirements.txt").is_file(), "requirements.txt (pinned) is missing"
    service_dir = REPO_ROOT / "services" / name
    assert (service_dir / "pyproject.toml").is_file(), f"{service_dir}/pyproject.toml is missing"
    assert (service_dir / f"score_{name}").is_dir(), f"package score_{name} is missing"


# ---------------------------------------------------------------------------------------------
# deploy/mongodb/init-users.js, executed


def mongodb_setup_env() -> dict[str, str]:
    example = read_env_file(ENV_EXAMPLE)
    return {key: interpolate(value, example)
            for key, value in environment(load_compose()["services"]["mongodb-setup"]).items()}


def test_init_users_js_knows_every_service():
    match = re.search(r"const SERVICES = \[([^\]]*)\]", INIT_USERS_JS.read_text())
    assert match, "init-users.js must declare its SERVICES list"
    assert tuple(re.findall(r'"([a-z]+)"', match[1])) == SERVICES


def test_init_users_js_creates_one_user_per_service_with_readwrite_on_its_own_database(
        run_init_users):
    env = mongodb_setup_env()
    result = run_init_users(env)
    assert "error" not in result, result.get("error")
    calls = result["calls"]
    assert [call["op"] for call in calls] == ["createUser"] * len(SERVICES)
    for name, call in zip(SERVICES, calls):
        database = f"score_{name}"
        assert call["db"] == database
        assert call["spec"]["user"] == name
        assert call["spec"]["roles"] == [{"role": "readWrite", "db": database}]
        assert call["spec"]["pwd"] == urlsplit(env[f"{name.upper()}_MONGODB_URI"]).password


def test_init_users_js_updates_existing_users(run_init_users):
    existing = [f"score_{name}.{name}" for name in SERVICES]
    result = run_init_users(mongodb_setup_env(), existing)
    assert "error" not in result, result.get("error")
    assert [call["op"] for call in result["calls"]] == ["updateUser"] * len(SERVICES)
    for name, call in zip(SERVICES, result["calls"]):
        assert call["user"] == name
        assert call["spec"]["roles"] == [{"role": "readWrite", "db": f"score_{name}"}]


@pytest.mark.parametrize("mistake, message", [
    (lambda env: env.pop("COACHING_MONGODB_URI"), "COACHING_MONGODB_URI is not set"),
    (lambda env: env.update(COACHING_MONGODB_URI=env["COACHING_MONGODB_URI"].replace(
        "coaching:", "reporting:", 1)), "must name user coaching"),
    (lambda env: env.update(COACHING_MONGODB_URI=env["COACHING_MONGODB_URI"].replace(
        "/score_coaching?", "/score_reporting?", 1)), "must name user coaching"),
    (lambda env: env.update(COACHING_MONGODB_URI=env["COACHING_MONGODB_URI"].replace(
        "authSource=score_coaching", "authSource=admin")), "authSource=score_coaching"),
    (lambda env: env.update(COACHING_MONGODB_URI=with_password(
        env["COACHING_MONGODB_URI"], env["REPORTING_MONGODB_URI"])), "reuses the password"),
])
def test_init_users_js_refuses_a_misconfigured_uri(run_init_users, mistake, message):
    env = mongodb_setup_env()
    mistake(env)
    result = run_init_users(env)
    assert message in result.get("error", ""), result
    assert result["calls"] == [], "nothing may be created before the whole input is checked"


# ---------------------------------------------------------------------------------------------
# deploy/rabbitmq/setup_users.py, executed


def rabbitmq_setup_env() -> dict[str, str]:
    example = read_env_file(ENV_EXAMPLE)
    return {key: interpolate(value, example)
            for key, value in environment(load_compose()["services"]["rabbitmq-setup"]).items()}


def test_setup_users_py_knows_every_service(setup_users):
    assert setup_users.SERVICES == SERVICES


def test_setup_users_py_plans_one_unprivileged_user_per_service(setup_users):
    env = rabbitmq_setup_env()
    calls = setup_users.plan(env)
    assert calls[0] == ("PUT", "/api/vhosts/score", {"description": "SCORE platform"})
    users = {path.rsplit("/", 1)[1]: body for method, path, body in calls
             if path.startswith("/api/users/")}
    assert set(users) == set(SERVICES)
    for name, body in users.items():
        assert body["tags"] == "", "service users must not be administrators"
        assert body["password"] == urlsplit(env[f"{name.upper()}_AMQP_URI"]).password
    permissions = [path for method, path, body in calls if path.startswith("/api/permissions/")]
    assert all(path.startswith("/api/permissions/score/") for path in permissions)
    assert {p.rsplit("/", 1)[1] for p in permissions} == set(SERVICES) | {
        env["RABBITMQ_ADMIN_USER"]}


@pytest.mark.parametrize("mistake, message", [
    (lambda env: env.pop("COACHING_AMQP_URI"), "COACHING_AMQP_URI is not set"),
    (lambda env: env.update(COACHING_AMQP_URI=env["COACHING_AMQP_URI"].replace(
        "coaching:", "reporting:", 1)), "must use the user 'coaching'"),
    (lambda env: env.update(COACHING_AMQP_URI=env["COACHING_AMQP_URI"].replace(
        "/score", "/other")), "share one vhost"),
    (lambda env: env.update(COACHING_AMQP_URI=with_password(
        env["COACHING_AMQP_URI"], env["REPORTING_AMQP_URI"])), "its own AMQP password"),
])
def test_setup_users_py_refuses_a_misconfigured_uri(setup_users, mistake, message):
    env = rabbitmq_setup_env()
    mistake(env)
    with pytest.raises(setup_users.ConfigError, match=re.escape(message)):
        setup_users.plan(env)


class _FakeManagementApi(http.server.BaseHTTPRequestHandler):
    requests: list = []

    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.requests.append((self.command, self.path, self.headers.get("Authorization"), body))
        self.send_response(200 if self.command == "GET" else 204)
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(b"{}")

    do_GET = do_PUT = _record

    def log_message(self, *args):
        pass


def test_setup_users_py_applies_the_plan_through_the_management_api(setup_users):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeManagementApi)
    _FakeManagementApi.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = rabbitmq_setup_env()
        env["RABBITMQ_MANAGEMENT_URL"] = f"http://127.0.0.1:{server.server_address[1]}"
        assert setup_users.main(env) == 0
    finally:
        server.shutdown()
        server.server_close()
    requests = _FakeManagementApi.requests
    expected_auth = "Basic " + base64.b64encode(
        f"{env['RABBITMQ_ADMIN_USER']}:{env['RABBITMQ_ADMIN_PASSWORD']}".encode()).decode()
    assert all(auth == expected_auth for _, _, auth, _ in requests)
    assert requests[0][:2] == ("GET", "/api/overview")
    assert [(m, p, b) for m, p, _, b in requests[1:]] == setup_users.plan(env)


# ---------------------------------------------------------------------------------------------
# Docker Compose itself, when installed


@pytest.fixture(scope="module")
def compose():
    command = compose_command()
    if command is None:
        pytest.skip("Docker Compose v2 is not installed (no `docker compose` plugin and no "
                    "docker-compose v2 binary); the file is still checked by the tests above")
    return command


def test_docker_compose_accepts_the_file(compose):
    result = subprocess.run(
        [*compose, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=REPO_ROOT, env=clean_environ(), capture_output=True, text=True, timeout=120,
        check=False)
    assert result.returncode == 0, result.stderr


def test_docker_compose_resolves_what_these_tests_read(compose):
    result = subprocess.run(
        [*compose, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_FILE), "config",
         "--format", "json"],
        cwd=REPO_ROOT, env=clean_environ(), capture_output=True, text=True, timeout=120,
        check=False)
    assert result.returncode == 0, result.stderr
    rendered = json.loads(result.stdout)["services"]
    for name in SERVICES:
        # Anchors, merge keys and interpolation as compose sees them.
        assert rendered[name]["environment"] == resolved_environment(name)
        assert rendered[name]["depends_on"]["mongodb"]["condition"] == "service_healthy"


def test_docker_compose_refuses_to_run_without_secrets(compose, tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = subprocess.run(
        [*compose, "--env-file", str(empty), "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=REPO_ROOT, env=clean_environ(), capture_output=True, text=True, timeout=120,
        check=False)
    assert result.returncode != 0
    assert ".env.example" in result.stderr


def test_the_edge_proxy_publishes_the_gateway_and_nothing_else():
    proxy = load_compose()["services"]["edge-proxy"]
    published = [str(port) for port in proxy["ports"]]
    assert len(published) == 1 and published[0].endswith(":8080")
    config = (REPO_ROOT / "deploy" / "nginx" / "edge.conf").read_text()
    assert "server gateway:8000;" in config and "proxy_pass http://gateway;" in config
    mounted = [v for v in proxy["volumes"] if "edge.conf" in v]
    assert mounted and (REPO_ROOT / mounted[0].split(":")[0].lstrip("./")).exists()
