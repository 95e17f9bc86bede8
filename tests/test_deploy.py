"""The compose set-up hangs together: mounts exist, configs load, dashboards query real metrics.

``docker compose config`` (or Debian's ``docker-compose``) validates the file
where one is installed (CI installs it); the structural checks here run
everywhere: every bind mount names a file of the repository, the engine's
compose config loads with the engine's own loader and serves metrics where
Prometheus scrapes, and every metric the Grafana dashboard queries is one the
engine registers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from hypermarket.config import load_config
from hypermarket.observability.metrics import EngineMetrics

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"


def compose() -> dict[str, object]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_docker_compose_validates_where_compose_is_installed() -> None:
    if shutil.which("docker-compose"):
        command = ["docker-compose", "-f", str(COMPOSE), "config", "-q"]
    elif (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        command = ["docker", "compose", "-f", str(COMPOSE), "config", "-q"]
    else:
        command = []
    if command:
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
        assert done.returncode == 0, done.stderr
    services = compose()["services"]
    assert isinstance(services, dict)
    assert set(services) == {"nats", "engine", "prometheus", "grafana"}


def test_every_bind_mount_is_a_file_of_the_repository() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    mounts = [
        volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if volume.startswith("./")
    ]
    assert mounts
    for mount in mounts:
        assert (ROOT / mount).exists(), f"docker-compose.yml mounts {mount}, which is missing"


def test_the_engine_config_of_compose_loads_and_serves_what_prometheus_scrapes() -> None:
    config = load_config(ROOT / "config" / "compose.yaml", environ={})
    assert config.nats.urls == ("nats://nats:4222",)
    port = config.metrics.address.rpartition(":")[2]
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"engine:{port}"]


def test_the_dashboard_queries_only_metrics_the_engine_registers() -> None:
    registered = {metric.name for metric in EngineMetrics().registry.collect()}
    dashboard = json.loads(
        (ROOT / "deploy" / "grafana" / "dashboards" / "hypermarket.json").read_text("utf-8")
    )
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"hypermarket_[a-z_]+", target["expr"])
    }
    assert len(queried) >= 10
    # Series names add _total (counters) and _bucket (histograms) to the family's name.
    missing = {name for name in queried if re.sub(r"_(total|bucket)$", "", name) not in registered}
    assert not missing, f"the dashboard queries metrics the engine does not have: {missing}"
