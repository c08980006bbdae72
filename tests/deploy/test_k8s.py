"""deploy/k8s: the manifests applied with `kubectl apply -k deploy/k8s`.

Checked against libs/score-common/score_common/config.py (SERVICES, ENV_VARS) and against
each other: every reference (Secret and ConfigMap keys, Services, volumes, ports, replica-set
and cluster names) must point at something the manifests define.
"""
from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml

from score_common.config import ENV_VAR_NAMES, ENV_VARS, SERVICES, mongodb_database

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = REPO_ROOT / "deploy" / "k8s"
KUSTOMIZATION = K8S_DIR / "kustomization.yaml"

REQUIRED_VARS = sorted(v.name for v in ENV_VARS if v.deploy_required)
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "DaemonSet")


# ---------------------------------------------------------------------------------------------
# loading and resolving


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S_DIR.glob("*.yaml") if p.name != "kustomization.yaml")


def load_kustomization() -> dict:
    return yaml.safe_load(KUSTOMIZATION.read_text())


def load_objects() -> list[dict]:
    objects = []
    for path in manifest_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                doc.setdefault("metadata", {})["_file"] = path.name
                objects.append(doc)
    return objects


OBJECTS = load_objects()


def get(kind: str, name: str) -> dict:
    matches = [o for o in OBJECTS if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected exactly one {kind} {name}, found {len(matches)}"
    return matches[0]


def of_kind(kind: str) -> list[dict]:
    return [o for o in OBJECTS if o["kind"] == kind]


def secret_data(name: str) -> dict[str, str]:
    secret = get("Secret", name)
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


def configmap_data(name: str) -> dict[str, str]:
    configmap = get("ConfigMap", name)
    return {**(configmap.get("data") or {}), **(configmap.get("binaryData") or {})}


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def containers(workload: dict, init: bool = False) -> list[dict]:
    spec = pod_spec(workload)
    return list(spec.get("containers", [])) + (list(spec.get("initContainers", [])) if init else [])


def resolve_env(container: dict) -> dict[str, str]:
    """The environment a container starts with, values looked up in the manifests."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            data = configmap_data(source["configMapRef"]["name"])
        else:
            data = secret_data(source["secretRef"]["name"])
        env.update({prefix + key: value for key, value in data.items()})
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = str(var["value"])
            continue
        ref = var["valueFrom"]
        if "secretKeyRef" in ref:
            env[var["name"]] = secret_data(ref["secretKeyRef"]["name"])[ref["secretKeyRef"]["key"]]
        elif "configMapKeyRef" in ref:
            key_ref = ref["configMapKeyRef"]
            env[var["name"]] = configmap_data(key_ref["name"])[key_ref["key"]]
        else:
            env[var["name"]] = f"<{next(iter(ref))}>"
    return env


def service_container(name: str) -> dict:
    deployment = get("Deployment", name)
    matching = [c for c in containers(deployment) if c["name"] == name]
    assert len(matching) == 1, f"Deployment {name} needs one container named {name}"
    return matching[0]


def container_port(container: dict, port) -> int:
    if isinstance(port, int):
        return port
    named = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    assert port in named, f"container {container['name']} has no port named {port}"
    return named[port]


def mongod_option(name: str) -> str:
    args = containers(get("StatefulSet", "mongodb"))[0]["args"]
    assert name in args, f"mongod is started without {name}"
    return args[args.index(name) + 1]


def rabbitmq_conf() -> dict[str, str]:
    lines = configmap_data("rabbitmq-config")["rabbitmq.conf"].splitlines()
    pairs = [line.split("=", 1) for line in lines if "=" in line and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


def workload_ids() -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in OBJECTS if o["kind"] in WORKLOAD_KINDS]


def workload(workload_id: str) -> dict:
    kind, name = workload_id.split("/")
    return get(kind, name)


def service_uris() -> dict[str, dict[str, str]]:
    return {name: resolve_env(service_container(name)) for name in SERVICES}


# ---------------------------------------------------------------------------------------------
# kustomization


def test_kustomization_lists_every_manifest_in_the_folder():
    resources = load_kustomization()["resources"]
    assert len(resources) == len(set(resources)), "a resource is listed twice"
    assert set(resources) == {p.name for p in manifest_files()}


def test_namespace_is_consistent():
    namespace = load_kustomization()["namespace"]
    assert [ns["metadata"]["name"] for ns in of_kind("Namespace")] == [namespace]
    # RabbitMQ node names are fully qualified; the namespace is part of them.
    assert rabbitmq_conf()["cluster_formation.k8s.hostname_suffix"].endswith(
        f".{namespace}.svc.cluster.local")


def test_images_named_in_kustomization_are_used():
    images = {image["name"] for image in load_kustomization().get("images", [])}
    used = {c["image"].split(":")[0] for o in OBJECTS if o["kind"] in WORKLOAD_KINDS
            for c in containers(o, init=True)}
    assert images == {f"score-{name}" for name in SERVICES}
    assert images <= used


def test_kubectl_kustomize_renders_every_object_into_the_namespace():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed; the manifests are still checked by the tests above")
    result = subprocess.run([kubectl, "kustomize", str(K8S_DIR)], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert len(rendered) == len(OBJECTS)
    namespace = load_kustomization()["namespace"]
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == namespace, doc["metadata"]["name"]


def test_manifests_match_the_kubernetes_schema():
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate is not installed")
    for obj in OBJECTS:
        clean = {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k != "_file"}}
        kubernetes_validate.validate(clean, "1.30", strict=True)


# ---------------------------------------------------------------------------------------------
# the five services


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_per_service(name):
    deployment = get("Deployment", name)
    container = service_container(name)
    assert container["image"].split(":")[0] == f"score-{name}"
    assert deployment["spec"]["replicas"] >= 2, "one replica is a single point of failure"
    resources = container["resources"]
    for section in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[section]), f"{name} lacks {section}"
    security = {**pod_spec(deployment).get("securityContext", {}),
                **container.get("securityContext", {})}
    assert security.get("runAsNonRoot") is True
    assert security.get("allowPrivilegeEscalation") is False


@pytest.mark.parametrize("name", SERVICES)
@pytest.mark.parametrize("probe, path", [("livenessProbe", "/health/live"),
                                         ("readinessProbe", "/health"),
                                         ("startupProbe", "/health")])
def test_probes_get_health_on_port_8000(name, probe, path):
    container = service_container(name)
    assert {p["containerPort"] for p in container["ports"]} >= {8000}
    http_get = container[probe]["httpGet"]
    assert http_get["path"] == path
    assert container_port(container, http_get["port"]) == 8000


@pytest.mark.parametrize("name", SERVICES)
def test_service_gets_every_deploy_required_variable(name):
    env = resolve_env(service_container(name))
    missing = [var for var in REQUIRED_VARS if not env.get(var)]
    assert not missing, f"{name} lacks {missing}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_sets_only_variables_the_code_reads(name):
    unknown = set(resolve_env(service_container(name))) - ENV_VAR_NAMES
    assert not unknown, f"{name} gets {sorted(unknown)}, not declared in score_common.config"


@pytest.mark.parametrize("name", SERVICES)
def test_service_uses_quorum_queues_and_listens_on_8000(name):
    env = resolve_env(service_container(name))
    assert env["SCORE_QUEUE_TYPE"] == "quorum"
    assert env["SCORE_HTTP_ADDRESS"] == "0.0.0.0:8000"


@pytest.mark.parametrize("name", SERVICES)
def test_mongodb_uri_names_own_database_user_and_the_replica_set(name):
    uri = service_uris()[name]["MONGODB_URI"]
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    assert parts.scheme == "mongodb"
    assert unquote(parts.username) == name and parts.password
    assert parts.path == f"/score_{name}"
    assert mongodb_database(uri, name) == f"score_{name}"
    assert query.get("authSource") == [f"score_{name}"]
    assert query.get("replicaSet") == [mongod_option("--replSet")]
    statefulset = get("StatefulSet", "mongodb")
    headless = statefulset["spec"]["serviceName"]
    expected_hosts = [f"mongodb-{i}.{headless}:27017"
                      for i in range(statefulset["spec"]["replicas"])]
    assert parts.netloc.rsplit("@", 1)[1].split(",") == expected_hosts


@pytest.mark.parametrize("name", SERVICES)
def test_amqp_uri_uses_own_user_and_the_broker_service(name):
    parts = urlsplit(service_uris()[name]["AMQP_URI"])
    assert parts.scheme == "amqp"
    assert unquote(parts.username) == name and parts.password
    assert parts.path == "/score"
    service = get("Service", parts.hostname)
    assert service["spec"]["selector"] == get("StatefulSet", "rabbitmq")["spec"]["selector"][
        "matchLabels"]
    assert parts.port in {p["port"] for p in service["spec"]["ports"]}


def test_no_two_services_share_credentials():
    seen: dict[str, str] = {}
    for name, env in service_uris().items():
        for var in ("AMQP_URI", "MONGODB_URI"):
            password = urlsplit(env[var]).password
            assert password not in seen, f"{name}.{var} reuses the password of {seen[password]}"
            seen[password] = f"{name}.{var}"
    secrets = [ref["secretKeyRef"]["name"] for name in SERVICES
               for var in service_container(name).get("env", [])
               for ref in [var.get("valueFrom", {})] if "secretKeyRef" in ref]
    assert len(set(secrets)) == len(SERVICES), "each service reads its own Secret"


def test_shared_configmap_holds_only_known_variables():
    data = configmap_data("score-config")
    assert set(data) <= ENV_VAR_NAMES
    assert not {"AMQP_URI", "MONGODB_URI"} & set(data), "credentials belong in Secrets"


# ---------------------------------------------------------------------------------------------
# every workload: references resolve


@pytest.mark.parametrize("workload_id", workload_ids())
def test_env_references_exist(workload_id):
    for container in containers(workload(workload_id), init=True):
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef") or source.get("secretRef")
            assert not ref.get("optional"), "an optional source hides a typo"
            get("ConfigMap" if "configMapRef" in source else "Secret", ref["name"])
        for var in container.get("env", []):
            ref = var.get("valueFrom", {})
            for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                if key in ref:
                    data = secret_data(ref[key]["name"]) if kind == "Secret" else configmap_data(
                        ref[key]["name"])
                    assert ref[key]["key"] in data, (
                        f"{container['name']}: {kind} {ref[key]['name']} has no key "
                        f"{ref[key]['key']}")


@pytest.mark.parametrize("workload_id", workload_ids())
def test_volumes_and_mounts_resolve(workload_id):
    obj = workload(workload_id)
    spec = pod_spec(obj)
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    claims = {c["metadata"]["name"] for c in obj["spec"].get("volumeClaimTemplates", [])}
    for container in containers(obj, init=True):
        for mount in container.get("volumeMounts", []):
            assert mount["name"] in volumes or mount["name"] in claims, (
                f"{container['name']} mounts undefined volume {mount['name']}")
    for volume in volumes.values():
        if "configMap" in volume:
            data = configmap_data(volume["configMap"]["name"])
            items = volume["configMap"].get("items", [])
        elif "secret" in volume:
            data = secret_data(volume["secret"]["secretName"])
            items = volume["secret"].get("items", [])
        else:
            continue
        for item in items:
            assert item["key"] in data, f"volume {volume['name']}: no key {item['key']}"


@pytest.mark.parametrize("workload_id", [w for w in workload_ids() if not w.startswith("Job/")])
def test_selector_matches_pod_labels(workload_id):
    obj = workload(workload_id)
    labels = obj["spec"]["template"]["metadata"]["labels"]
    selector = obj["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()


def test_every_service_selects_pods_that_have_its_target_ports():
    pod_templates = [o for o in OBJECTS if o["kind"] in ("Deployment", "StatefulSet")]
    for service in of_kind("Service"):
        name = service["metadata"]["name"]
        selector = service["spec"]["selector"]
        targets = [o for o in pod_templates
                   if selector.items() <= o["spec"]["template"]["metadata"]["labels"].items()]
        assert targets, f"Service {name} selects no pods"
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for obj in targets:
                offered = {p.get("name") for c in containers(obj) for p in c.get("ports", [])}
                offered |= {p["containerPort"] for c in containers(obj) for p in c.get("ports", [])}
                assert target in offered, f"Service {name}: pods have no port {target}"


def test_pod_disruption_budgets_select_something():
    for pdb in of_kind("PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= o["spec"]["template"]["metadata"]["labels"].items()
                   for o in OBJECTS if o["kind"] in ("Deployment", "StatefulSet")), (
            f"PodDisruptionBudget {pdb['metadata']['name']} selects no pods")


# ---------------------------------------------------------------------------------------------
# RabbitMQ cluster


def test_rabbitmq_is_a_three_node_statefulset_behind_a_headless_service():
    statefulset = get("StatefulSet", "rabbitmq")
    assert statefulset["spec"]["replicas"] == 3
    headless = get("Service", statefulset["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"].get("publishNotReadyAddresses") is True
    assert headless["spec"]["selector"] == statefulset["spec"]["selector"]["matchLabels"]
    container = containers(statefulset)[0]
    assert container["image"].startswith("rabbitmq:3.13-management")
    assert {p["containerPort"] for p in container["ports"]} >= {4369, 5672, 15672, 25672}
    assert statefulset["spec"]["volumeClaimTemplates"], "broker data must be persistent"


def test_rabbitmq_peer_discovery_is_consistent():
    statefulset = get("StatefulSet", "rabbitmq")
    conf = rabbitmq_conf()
    assert conf["cluster_formation.peer_discovery_backend"] in ("rabbit_peer_discovery_k8s", "k8s")
    assert conf["cluster_formation.k8s.service_name"] == statefulset["spec"]["serviceName"]
    assert conf["cluster_formation.k8s.address_type"] == "hostname"
    plugins = configmap_data("rabbitmq-config")["enabled_plugins"]
    assert "rabbitmq_peer_discovery_k8s" in plugins and "rabbitmq_management" in plugins
    # The node name the pod gives itself must be the one peers derive from the suffix.
    env = {v["name"]: v.get("value") for v in containers(statefulset)[0]["env"]}
    namespace = load_kustomization()["namespace"]
    nodename = env["RABBITMQ_NODENAME"].replace("$(MY_POD_NAMESPACE)", namespace)
    assert nodename == "rabbit@$(MY_POD_NAME)" + conf["cluster_formation.k8s.hostname_suffix"]
    assert env["RABBITMQ_USE_LONGNAME"] == "true"


def test_rabbitmq_may_read_its_endpoints():
    account = pod_spec(get("StatefulSet", "rabbitmq"))["serviceAccountName"]
    get("ServiceAccount", account)
    bindings = [b for b in of_kind("RoleBinding")
                if any(s["kind"] == "ServiceAccount" and s["name"] == account
                       for s in b["subjects"])]
    assert bindings
    rules = [rule for b in bindings for rule in get(b["roleRef"]["kind"],
                                                    b["roleRef"]["name"])["rules"]]
    assert any("endpoints" in r["resources"] and "get" in r["verbs"] for r in rules)


def test_rabbitmq_erlang_cookie_is_usable():
    cookie = secret_data("rabbitmq-admin")["erlang-cookie"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,255}", cookie)


def test_rabbitmq_setup_job_creates_every_service_user(setup_users):
    job = get("Job", "rabbitmq-setup")
    container = containers(job)[0]
    env = resolve_env(container)
    for name in SERVICES:
        assert env[f"{name.upper()}_AMQP_URI"] == service_uris()[name]["AMQP_URI"]
    assert urlsplit(env["RABBITMQ_MANAGEMENT_URL"]).hostname == "rabbitmq"
    assert env["RABBITMQ_ADMIN_USER"] == secret_data("rabbitmq-admin")["username"]
    users = {path.rsplit("/", 1)[1] for _, path, _ in setup_users.plan(env)
             if path.startswith("/api/users/")}
    assert users == set(SERVICES)
    assert "/setup/setup_users.py" in container["command"]


def test_rabbitmq_setup_script_copy_is_identical():
    copy = configmap_data("rabbitmq-setup")["setup_users.py"]
    original = (REPO_ROOT / "deploy" / "rabbitmq" / "setup_users.py").read_text()
    assert copy == original, (
        "deploy/k8s/rabbitmq.yaml (ConfigMap rabbitmq-setup) differs from "
        "deploy/rabbitmq/setup_users.py: copy the file into the ConfigMap again")


# ---------------------------------------------------------------------------------------------
# MongoDB replica set


def test_mongodb_is_a_three_member_replica_set_behind_a_headless_service():
    statefulset = get("StatefulSet", "mongodb")
    assert statefulset["spec"]["replicas"] == 3
    headless = get("Service", statefulset["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"].get("publishNotReadyAddresses") is True
    container = containers(statefulset)[0]
    assert container["image"] == "mongo:7"
    assert mongod_option("--replSet")
    keyfile = mongod_option("--keyFile")
    assert any(keyfile.startswith(m["mountPath"] + "/") for m in container["volumeMounts"])
    assert statefulset["spec"]["volumeClaimTemplates"], "database data must be persistent"


def test_mongodb_keyfile_is_valid():
    keyfile = secret_data("mongodb-admin")["keyfile"]
    assert re.fullmatch(r"[A-Za-z0-9+/=]{6,1024}", keyfile)


def test_mongodb_init_job_initiates_the_set_the_services_connect_to():
    job = get("Job", "mongodb-init")
    container = containers(job)[0]
    env = resolve_env(container)
    assert env["MONGODB_REPLICA_SET"] == mongod_option("--replSet")
    for name in SERVICES:
        uri = service_uris()[name]["MONGODB_URI"]
        assert env[f"{name.upper()}_MONGODB_URI"] == uri
        assert urlsplit(uri).netloc.rsplit("@", 1)[1] == env["MONGODB_MEMBERS"]
    script = configmap_data("mongodb-init")[container["command"][-1].rsplit("/", 1)[1]]
    assert "rs.initiate" in script
    assert "init-users.js" in script


def test_mongodb_init_job_creates_exactly_the_service_users(run_init_users):
    env = resolve_env(containers(get("Job", "mongodb-init"))[0])
    result = run_init_users(env)
    assert "error" not in result, result.get("error")
    created = [(c["db"], c["spec"]["user"], c["spec"]["roles"]) for c in result["calls"]]
    assert created == [(f"score_{n}", n, [{"role": "readWrite", "db": f"score_{n}"}])
                       for n in SERVICES]


def test_mongodb_init_users_copy_is_identical():
    copy = configmap_data("mongodb-init")["init-users.js"]
    original = (REPO_ROOT / "deploy" / "mongodb" / "init-users.js").read_text()
    assert copy == original, (
        "deploy/k8s/mongodb.yaml (ConfigMap mongodb-init) differs from "
        "deploy/mongodb/init-users.js: copy the file into the ConfigMap again")
