"""docker-compose.yml and the Dockerfile, checked by reading them (no Docker engine needed):
every long-running service has a healthcheck, start-up is gated on dependencies being healthy
(or migrations having completed), published ports match the settings defaults, secrets fail
fast, and the image is multi-stage, slim and non-root."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from todo_agent.settings import AgentSettings
from todo_auth.settings import AuthSettings
from todo_edge.settings import EdgeSettings
from todo_tasks.settings import TasksSettings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

# Service → (settings class, env prefix): the compose ports must equal the code's defaults.
APP_SERVICES: dict[str, tuple[type[Any], str]] = {
    "auth": (AuthSettings, "AUTH"),
    "tasks": (TasksSettings, "TASKS"),
    "agent": (AgentSettings, "AGENT"),
    "edge": (EdgeSettings, "EDGE"),
}
ONE_SHOT = {"migrate"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _default_port(settings_class: type[Any]) -> int:
    return int(settings_class.model_fields["port"].default)


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no", name
            continue
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_dependencies_wait_for_health_or_completion(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on must use conditions"
        for dependency, rule in depends.items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert rule == {"condition": expected}, f"{name} → {dependency}: {rule}"


def test_start_up_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services["migrate"]["depends_on"]) == {"postgres"}
    for name in ("auth", "tasks"):
        assert {"postgres", "migrate"} <= set(services[name]["depends_on"])
    assert "auth" in services["tasks"]["depends_on"]  # tokens are verified with auth's keys
    assert {"auth", "tasks"} <= set(services["agent"]["depends_on"])
    assert {"auth", "tasks", "agent"} <= set(services["edge"]["depends_on"])
    migrate = " ".join(services["migrate"]["command"])
    assert "todo-auth migrate" in migrate
    assert "todo-tasks migrate" in migrate
    assert "todo-edge migrate" in migrate
    assert "migrate" in services["edge"]["depends_on"]


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_ports_match_the_settings_defaults(compose: dict[str, Any], name: str) -> None:
    settings_class, prefix = APP_SERVICES[name]
    port = _default_port(settings_class)
    service = compose["services"][name]
    if name == "edge":  # reached through the balancer only
        assert "ports" not in service
        assert service["expose"] == [str(port)]
        assert "8000:8000" in compose["services"]["balancer"]["ports"]
    else:
        # One port, or (for a scaled service) a range starting at it: one per replica.
        published = [str(p) for p in service["ports"]]
        pattern = rf"127\.0\.0\.1:{port}(-\d+)?:{port}"
        assert any(re.fullmatch(pattern, p) for p in published), (name, published)
    assert str(service["environment"][f"{prefix}_PORT"]) == str(port)
    assert service["environment"][f"{prefix}_HOST"] == "0.0.0.0"  # noqa: S104 (in a container)
    assert str(port) in " ".join(service["healthcheck"]["test"])
    assert service["command"] == [f"todo-{name}", "serve"]


def test_backend_addresses_use_the_default_ports(compose: dict[str, Any]) -> None:
    edge = compose["services"]["edge"]["environment"]
    assert edge["EDGE_AUTH_ADDRESS"] == "auth:50051"  # one auth
    for backend in ("tasks", "agent"):
        port = _default_port(APP_SERVICES[backend][0])
        assert edge[f"EDGE_{backend.upper()}_ADDRESS"] == f"dns:///{backend}:{port}"
    agent = compose["services"]["agent"]["environment"]
    assert agent["AGENT_TASKS_ADDRESS"] == "dns:///tasks:50052"
    for name in ("tasks", "agent", "edge"):
        assert compose["services"][name]["environment"]["JWT_AUTH_ADDRESS"] == "auth:50051"


def test_tasks_agent_and_edge_scale_behind_round_robin(compose: dict[str, Any]) -> None:
    """`--scale` works (no fixed container names or host ports) and every caller spreads its
    calls over the replicas Docker's DNS lists."""
    services = compose["services"]
    for name in ("tasks", "agent", "edge"):
        service = services[name]
        assert service["deploy"]["replicas"] >= 2, name
        assert "container_name" not in service, name
        prefix = APP_SERVICES[name][1]
        assert service["environment"][f"{prefix}_GRPC_LOAD_BALANCING"] == "round_robin", name
    balancer = services["balancer"]
    assert balancer["image"].startswith("haproxy:")
    assert balancer["depends_on"] == {"edge": {"condition": "service_healthy"}}
    command = " ".join(balancer["command"])
    assert "/etc/todo/haproxy.cfg" in command and "/etc/todo/compose.cfg" in command
    assert balancer["volumes"] == ["./docker/haproxy:/etc/todo:ro"]
    assert (ROOT / "docker" / "haproxy" / "compose.cfg").is_file()
    # A draining agent or edge gets longer than its longest reply before compose kills it.
    for name in ("agent", "edge"):
        prefix = APP_SERVICES[name][1]
        grace = float(services[name]["environment"][f"{prefix}_SHUTDOWN_GRACE_SECONDS"])
        assert grace >= 120
        assert int(services[name]["stop_grace_period"].removesuffix("s")) > grace


def test_postgres_has_a_named_volume_and_pg_isready(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose["volumes"]


def test_secrets_fail_fast_when_unset() -> None:
    text = COMPOSE.read_text()
    for secret in ("POSTGRES_PASSWORD", "TASKS_PAGE_TOKEN_SECRET"):
        references = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert references, secret
        assert all(ref.startswith(":?") for ref in references), (secret, references)
    # No secret has a literal value in the file.
    assert not re.search(r"PASSWORD:\s*['\"]?\w", text.replace("${POSTGRES_PASSWORD", ""))


def test_services_run_in_production_mode(compose: dict[str, Any]) -> None:
    for name, (_, prefix) in APP_SERVICES.items():
        assert compose["services"][name]["environment"][f"{prefix}_ENVIRONMENT"] == "production"
    # Production edge settings need Redis for shared rate-limit counters.
    assert compose["services"]["edge"]["environment"]["EDGE_REDIS_URL"].startswith("redis://")


def test_every_image_is_built_from_the_one_dockerfile(compose: dict[str, Any]) -> None:
    for name in [*APP_SERVICES, "migrate"]:
        build = compose["services"][name]["build"]
        assert build["context"] == "."
        assert build.get("dockerfile", "Dockerfile") == "Dockerfile"
        services = build["args"]["SERVICE"].split()
        assert services, name
        for service in services:
            assert (ROOT / ("edge" if service == "edge" else f"services/{service}")).is_dir()


def test_dockerfile_is_multi_stage_slim_and_non_root() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, flags=re.MULTILINE)
    assert [alias for _, alias in stages] == ["builder", "runtime"]
    assert "slim" in re.search(r"ARG PYTHON_IMAGE=(\S+)", text).group(1)  # type: ignore[union-attr]
    runtime = text.split("AS runtime", 1)[1]
    assert "uv sync" not in runtime
    assert not re.search(r"apt-get|gcc|build-essential", runtime)
    assert "COPY --from=builder /app/.venv /app/.venv" in runtime
    user = re.findall(r"^USER\s+(\S+)", runtime, flags=re.MULTILINE)
    assert user and not user[-1].startswith(("root", "0"))
    assert "--frozen" in text
    assert "--no-dev" in text


def test_healthcheck_script_is_in_the_image_and_reports_down_services() -> None:
    assert "COPY docker/healthcheck.py /usr/local/bin/healthcheck.py" in DOCKERFILE.read_text()
    script = ROOT / "docker" / "healthcheck.py"
    down = subprocess.run(
        [sys.executable, str(script), "grpc", "127.0.0.1:1"], capture_output=True, timeout=30
    )
    assert down.returncode == 1
    usage = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=30)
    assert usage.returncode == 2


def _compose_cli() -> str | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30)
    return docker if probe.returncode == 0 else None


COMPOSE_CLI = _compose_cli()


@pytest.mark.skipif(COMPOSE_CLI is None, reason="no `docker compose` on this machine")
def test_docker_compose_config_is_valid() -> None:
    assert COMPOSE_CLI is not None
    env = {**os.environ, "POSTGRES_PASSWORD": "x", "TASKS_PAGE_TOKEN_SECRET": "y" * 32}
    result = subprocess.run(
        [COMPOSE_CLI, "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
