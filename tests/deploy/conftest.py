"""Shared fixtures for the deployment-file tests (docker-compose.yml, deploy/).

The tests read the files, they do not start containers: no Docker engine runs on CI. The two
setup scripts are executed for real, the JavaScript one under Node with a recording stand-in
for mongosh's `db`, and the Python one against a local HTTP server posing as the RabbitMQ
management API.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

try:
    import score_common.config  # noqa: F401
except ImportError:
    # config.py has no third-party imports, so the source tree is enough.
    sys.path.insert(0, str(REPO_ROOT / "libs" / "score-common"))

INIT_USERS_JS = REPO_ROOT / "deploy" / "mongodb" / "init-users.js"
SETUP_USERS_PY = REPO_ROOT / "deploy" / "rabbitmq" / "setup_users.py"

# Runs init-users.js the way mongosh would, with `db`, `print` and `process.env` replaced by
# stand-ins that record what the script asks of the server.
_NODE_HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const [scriptPath, envJson, existingJson] = process.argv.slice(1);  // node -e: argv[1] is the first argument
const existing = new Set(JSON.parse(existingJson));
const calls = [];
const db = {
  getSiblingDB(database) {
    return {
      getUser(user) { return existing.has(`${database}.${user}`) ? { user: user } : null; },
      createUser(spec) { calls.push({ op: "createUser", db: database, spec: spec }); },
      updateUser(user, spec) { calls.push({ op: "updateUser", db: database, user: user, spec: spec }); },
    };
  },
};
const context = { db: db, print: () => {}, process: { env: JSON.parse(envJson) } };
try {
  vm.runInNewContext(fs.readFileSync(scriptPath, "utf8"), context, { filename: scriptPath });
  console.log(JSON.stringify({ calls: calls }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e && e.message ? e.message : e), calls: calls }));
}
"""


@pytest.fixture(scope="session")
def run_init_users():
    """Run deploy/mongodb/init-users.js under Node; returns {"calls": [...]} or {"error": ...}."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("Node.js is not installed; init-users.js cannot be executed")

    def run(env: dict, existing=(), script: Path = INIT_USERS_JS) -> dict:
        result = subprocess.run(
            [node, "-e", _NODE_HARNESS, str(script), json.dumps(env), json.dumps(list(existing))],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    return run


@pytest.fixture(scope="session")
def setup_users():
    """deploy/rabbitmq/setup_users.py imported as a module."""
    spec = importlib.util.spec_from_file_location("score_deploy_setup_users", SETUP_USERS_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
