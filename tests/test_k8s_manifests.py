"""deploy/k8s, checked offline: every manifest validates against the Kubernetes schemas
(`kubernetes-validate`, strict: unknown fields are errors), and the parts that make the
replicated system work are there and agree with the code — the ports and health endpoints the
processes really serve, the settings names they really read (each container's environment
loads into its settings class), drain times longer than the longest reply, replicas with
disruption budgets and autoscalers, headless Services dialled with round_robin, network
policies that let each backend be reached only by its callers, and non-root, read-only pods.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from todo_agent.settings import AgentSettings
from todo_auth.settings import AuthSettings
from todo_common.settings import TokenSettings
from todo_edge.settings import EdgeSettings
from todo_tasks.settings import TasksSettings

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "deploy" / "k8s" / "base"
OVERLAYS = ROOT / "deploy" / "k8s" / "overlays"
# A version kubernetes-validate ships schemas for (and a still-supported Kubernetes release).
KUBERNETES_VERSION = "1.32.0"

SETTINGS: dict[str, type[BaseSettings]] = {
    "auth": AuthSettings,
    "tasks": TasksSettings,
    "agent": AgentSettings,
    "edge": EdgeSettings,
}
GRPC_SERVICES = ("auth", "tasks", "agent")
REPLICATED = ("tasks", "agent", "edge")
# Who calls whom: the edge calls every backend, the agent's tools call tasks, tasks and the
# agent fetch auth's signing keys; the processes with tables (and the migration Job) use
# PostgreSQL; the edges share rate-limit counters in Redis.
CALLERS = {
    "auth": {"edge", "tasks", "agent"},
    "tasks": {"edge", "agent"},
    "agent": {"edge"},
    "postgres": {"auth", "tasks", "edge", "migrate"},
    "redis": {"edge"},
}
# Secret placeholders: values a person must replace (see secret.yaml).
PLACEHOLDERS = {"", "replace-me"}
# Stand-ins for the Secret's values when a container's environment is loaded here.
TEST_SECRETS = {"POSTGRES_PASSWORD": "pw", "TASKS_PAGE_TOKEN_SECRET": "x" * 40}
NAME = "app.kubernetes.io/name"


def _load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    return data


@pytest.fixture(scope="module")
def resources(kustomization: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource the base kustomization lists, in namespace `todo` as kustomize puts it."""
    docs = []
    for name in kustomization["resources"]:
        for doc in _load(BASE / name):
            if doc["kind"] != "Namespace":
                doc.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
            docs.append(doc)
    return docs


def _find(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


@pytest.fixture(scope="module")
def deployments(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return _find(resources, "Deployment")


@pytest.fixture(scope="module")
def config(resources: list[dict[str, Any]]) -> dict[str, str]:
    data: dict[str, str] = _find(resources, "ConfigMap")["todo-config"]["data"]
    return data


def _pod(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    [container] = _pod(workload)["containers"]
    return dict(container)


def _environment(workload: dict[str, Any], config: dict[str, str]) -> dict[str, str]:
    """The container's environment as Kubernetes builds it: the ConfigMap, then `env` with
    Secret references filled from TEST_SECRETS and `$(VAR)` expanded."""
    env = dict(config)
    for variable in _container(workload).get("env", []):
        if "valueFrom" in variable:
            env[variable["name"]] = TEST_SECRETS.get(variable["name"], "")
        else:
            env[variable["name"]] = re.sub(
                r"\$\((\w+)\)", lambda m: env[m.group(1)], variable["value"]
            )
    return env


def _load_settings(
    settings: type[BaseSettings], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Any:
    with monkeypatch.context() as patch:
        for variable in list(os.environ):
            if variable.split("_", 1)[0] in {"AUTH", "TASKS", "AGENT", "EDGE", "JWT", "OPENAI"}:
                patch.delenv(variable)
        for variable, value in env.items():
            patch.setenv(variable, value)
        return settings()


def test_every_manifest_validates_against_the_kubernetes_schemas() -> None:
    files = sorted(BASE.glob("*.yaml")) + sorted(OVERLAYS.glob("*/*.yaml"))
    checked = 0
    for path in files:
        if path.name == "kustomization.yaml":
            continue
        for doc in _load(path):
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                name = f"{path.name}: {doc['kind']}/{doc['metadata']['name']}"
                pytest.fail(f"{name}: {error.message} at {list(error.path)}")
            checked += 1
    assert checked >= 25


def test_the_kustomization_lists_every_manifest(kustomization: dict[str, Any]) -> None:
    files = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert kustomization["namespace"] == "todo"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("folder", [BASE, *sorted(OVERLAYS.iterdir())], ids=lambda p: p.name)
def test_kustomize_builds_and_the_result_validates(folder: Path) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(folder)], check=True, capture_output=True, text=True
    ).stdout
    docs = [doc for doc in yaml.safe_load_all(built) if doc]
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    assert {d["metadata"].get("namespace", "todo") for d in docs} == {"todo"}


def test_every_process_has_a_deployment_with_enough_replicas(
    deployments: dict[str, dict[str, Any]],
) -> None:
    assert set(SETTINGS) <= set(deployments)
    for name in REPLICATED:
        assert deployments[name]["spec"]["replicas"] >= 2, name
        strategy = deployments[name]["spec"]["strategy"]["rollingUpdate"]
        assert strategy["maxUnavailable"] == 0, f"{name}: a rollout must not drop capacity"
    for name, deployment in deployments.items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert selector == {NAME: name}


def test_images_and_commands_are_the_services_own(deployments: dict[str, dict[str, Any]]) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in SETTINGS:
        container = _container(deployments[name])
        assert (
            container["image"].split(":")[0] == compose[name]["image"] == f"todo-assistant/{name}"
        )
        assert container["command"] == [f"todo-{name}", "serve"]


def test_grpc_probes_use_the_port_the_service_serves(
    deployments: dict[str, dict[str, Any]], config: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in GRPC_SERVICES:
        container = _container(deployments[name])
        settings = _load_settings(
            SETTINGS[name], _environment(deployments[name], config), monkeypatch
        )
        [port] = container["ports"]
        assert port["containerPort"] == settings.port == SETTINGS[name].model_fields["port"].default
        assert settings.host == "0.0.0.0"  # noqa: S104 - a pod listens on its own address
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": settings.port}, f"{name} {probe}"


def test_the_edge_is_ready_on_readyz_and_alive_on_healthz(
    deployments: dict[str, dict[str, Any]], config: dict[str, str]
) -> None:
    from todo_edge.app import create_app

    routes = set(create_app(EdgeSettings()).openapi()["paths"])
    container = _container(deployments["edge"])
    [port] = container["ports"]
    assert port["containerPort"] == int(config["EDGE_PORT"]) == EdgeSettings().port
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    # A backend outage makes the edge unready, never restarts it.
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"/readyz", "/healthz"} <= routes
    # Ready means every backend it calls answers, the agent included.
    assert set(config["EDGE_READINESS_BACKENDS"].split(",")) == {"auth", "tasks", "agent"}


def test_every_container_environment_loads_into_its_settings(
    deployments: dict[str, dict[str, Any]],
    resources: list[dict[str, Any]],
    config: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, settings_class in SETTINGS.items():
        env = _environment(deployments[name], config)
        settings = _load_settings(settings_class, env, monkeypatch)
        assert settings.environment == "production", name
        if hasattr(settings, "database_url"):
            assert settings.database_url.startswith("postgresql+asyncpg://todo:pw@postgres."), name
    migrate = _find(resources, "Job")["migrate"]
    env = _environment(migrate, config)
    for name in ("auth", "tasks", "edge"):
        assert f"todo-{name} migrate" in " ".join(_container(migrate)["command"])
        settings = _load_settings(SETTINGS[name], env, monkeypatch)
        assert settings.database_url.startswith("postgresql+asyncpg://"), name


def _known_variables() -> set[str]:
    known = {f"JWT_{field}".upper() for field in TokenSettings.model_fields}
    prefixes = {"auth": "AUTH_", "tasks": "TASKS_", "agent": "AGENT_", "edge": "EDGE_"}
    for name, settings_class in SETTINGS.items():
        for field, info in settings_class.model_fields.items():
            known.add(f"{prefixes[name]}{field}".upper())
            aliases = getattr(info.validation_alias, "choices", ())
            known.update(str(alias) for alias in aliases)
    return known


def test_every_variable_set_is_one_the_code_reads(
    deployments: dict[str, dict[str, Any]], resources: list[dict[str, Any]], config: dict[str, str]
) -> None:
    """A misspelt name would be ignored silently (settings ignore unknown variables)."""
    known = _known_variables() | {"POSTGRES_PASSWORD"}  # only expanded into database URLs
    workloads = [*(deployments[n] for n in SETTINGS), _find(resources, "Job")["migrate"]]
    for workload in workloads:
        names = set(_environment(workload, config))
        assert names <= known, f"{workload['metadata']['name']}: {sorted(names - known)}"


def test_backends_are_headless_and_dialled_with_round_robin(
    resources: list[dict[str, Any]], config: dict[str, str]
) -> None:
    services = _find(resources, "Service")
    for name in GRPC_SERVICES:
        assert services[name]["spec"]["clusterIP"] == "None", f"{name} must be headless"
    addresses = {
        "JWT_AUTH_ADDRESS": "auth",
        "EDGE_TASKS_ADDRESS": "tasks",
        "EDGE_AGENT_ADDRESS": "agent",
        "AGENT_TASKS_ADDRESS": "tasks",
    }
    for variable, name in addresses.items():
        [port] = services[name]["spec"]["ports"]
        assert config[variable] == f"dns:///{name}.todo.svc.cluster.local:{port['port']}"
    assert "EDGE_AUTH_ADDRESS" not in config  # the edge takes JWT_AUTH_ADDRESS: one address
    for caller in ("TASKS", "AGENT", "EDGE"):
        assert config[f"{caller}_GRPC_LOAD_BALANCING"] == "round_robin"


def test_draining_outlasts_the_longest_reply(
    deployments: dict[str, dict[str, Any]], config: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = {
        name: _load_settings(SETTINGS[name], _environment(deployments[name], config), monkeypatch)
        for name in SETTINGS
    }
    # The longest reply is a chat turn: the edge's deadline on Respond, the agent's run cap.
    longest_reply = max(loaded["edge"].agent_timeout_seconds, loaded["agent"].run_timeout_seconds)
    # Auth and tasks answer unary calls within the callers' deadlines.
    unary_deadline = max(loaded["edge"].grpc_timeout_seconds, loaded["agent"].tool_timeout_seconds)
    for name in SETTINGS:
        pod = _pod(deployments[name])
        container = _container(deployments[name])
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep", name
        drain = loaded[name].shutdown_grace_seconds
        assert drain >= (longest_reply if name in ("agent", "edge") else unary_deadline), name
        assert pod["terminationGracePeriodSeconds"] > int(pre_stop[1]) + drain, name


def test_replicated_tiers_have_autoscalers_and_disruption_budgets(
    deployments: dict[str, dict[str, Any]], resources: list[dict[str, Any]]
) -> None:
    autoscalers = _find(resources, "HorizontalPodAutoscaler")
    budgets = _find(resources, "PodDisruptionBudget")
    for name in REPLICATED:
        replicas = deployments[name]["spec"]["replicas"]
        hpa = autoscalers[name]["spec"]
        assert hpa["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert hpa["minReplicas"] == replicas < hpa["maxReplicas"]
        budget = budgets[name]["spec"]
        assert budget["selector"]["matchLabels"] == {NAME: name}
        assert 1 <= budget["minAvailable"] < replicas
    for name in SETTINGS:
        assert "resources" in _container(deployments[name])
        requests = _container(deployments[name])["resources"]["requests"]
        assert {"cpu", "memory"} <= set(requests), name  # the autoscaler needs CPU requests


def test_network_policies_let_each_backend_be_reached_by_its_callers_only(
    resources: list[dict[str, Any]],
) -> None:
    policies = list(_find(resources, "NetworkPolicy").values())
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert len(deny) == 1 and deny[0]["spec"]["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny[0]["spec"]
    allowed: dict[str, set[str] | None] = {}
    for policy in policies:
        if policy in deny:
            continue
        target = policy["spec"]["podSelector"]["matchLabels"][NAME]
        for rule in policy["spec"]["ingress"]:
            if "from" not in rule:
                allowed[target] = None  # anyone
                continue
            peers = {peer["podSelector"]["matchLabels"][NAME] for peer in rule["from"]}
            assert all(set(peer) == {"podSelector"} for peer in rule["from"]), target
            current = allowed.setdefault(target, set())
            assert current is not None
            current.update(peers)
    assert allowed.pop("edge") is None  # the edge alone is reachable from outside
    assert allowed == CALLERS


def test_pods_run_as_non_root_on_a_read_only_filesystem(resources: list[dict[str, Any]]) -> None:
    workloads = [r for r in resources if r["kind"] in ("Deployment", "StatefulSet", "Job")]
    assert len(workloads) == 7
    for workload in workloads:
        name = workload["metadata"]["name"]
        pod = _pod(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] > 0, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        container = _container(workload)
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"] == {"drop": ["ALL"]}, name
        if name in (*SETTINGS, "migrate"):
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], f"{name}: /tmp must be writable"


def test_the_secret_holds_placeholders_only(
    resources: list[dict[str, Any]],
    deployments: dict[str, dict[str, Any]],
    config: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = _find(resources, "Secret")["todo-secrets"]
    assert "data" not in secret
    assert set(secret["stringData"].values()) <= PLACEHOLDERS
    assert set(secret["stringData"]) == {*TEST_SECRETS, "OPENAI_API_KEY"}
    # The placeholder cannot be deployed by mistake: production tasks refuses it.
    env = _environment(deployments["tasks"], config)
    env["TASKS_PAGE_TOKEN_SECRET"] = secret["stringData"]["TASKS_PAGE_TOKEN_SECRET"]
    with pytest.raises(ValidationError, match="TASKS_PAGE_TOKEN_SECRET"):
        _load_settings(TasksSettings, env, monkeypatch)
