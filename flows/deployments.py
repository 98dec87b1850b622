"""The deployments of `prefect.yaml`, as Python objects for `serve()`.

`prefect.yaml` is the one source of truth: `prefect deploy --all` reads it for work pools, and
this module reads the same entries (name, entrypoint, description, tags, parameters, schedules,
concurrency limit) so `sco-etl serve` cannot drift from it.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sco_etl.schemas.errors import ConfigError

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Schedule

PREFECT_FILE = Path(__file__).resolve().parent / "prefect.yaml"
"""Shipped inside the package, so an installed sco-etl serves the same deployments."""


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment entry of `prefect.yaml`: its entrypoint is the module path of a flow of
    the installed package (`sco_etl.flows.rates.ingest_rates`), its schedules the raw entries
    (`cron` or `interval` in seconds, optional `timezone`)."""

    name: str
    entrypoint: str
    description: str = ""
    tags: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: tuple[dict[str, Any], ...] = ()
    concurrency_limit: int | dict[str, Any] | None = None


def load_specs(path: Path = PREFECT_FILE) -> list[DeploymentSpec]:
    """The deployments declared in `path` (ConfigError: unreadable, or one without a name or a
    module-path entrypoint)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e}; reinstall sco-etl.") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from e
    specs = []
    for entry in document.get("deployments") or []:
        entrypoint = entry.get("entrypoint") or ""
        if not entry.get("name") or "." not in entrypoint or ":" in entrypoint:
            raise ConfigError(f"{path}: every deployment needs a name and a module-path "
                              f"entrypoint (package.module.flow), got {entry!r}")
        specs.append(DeploymentSpec(
            name=entry["name"],
            entrypoint=entry["entrypoint"],
            description=" ".join((entry.get("description") or "").split()),
            tags=tuple(entry.get("tags") or ()),
            parameters=dict(entry.get("parameters") or {}),
            schedules=tuple(entry.get("schedules") or ()),
            concurrency_limit=entry.get("concurrency_limit"),
        ))
    return specs


def select(specs: list[DeploymentSpec], names: list[str] | None) -> list[DeploymentSpec]:
    """The specs called `names` (all of them for none), in file order."""
    if not names:
        return specs
    known = {spec.name for spec in specs}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(f"no deployment called {', '.join(unknown)}; "
                          f"prefect.yaml declares {', '.join(sorted(known))}")
    return [spec for spec in specs if spec.name in names]


def with_schedule(spec: DeploymentSpec, cron: str | None = None,
                  interval: float | None = None, timezone: str | None = None) -> DeploymentSpec:
    """The spec with its schedules replaced by one cron or interval (for demos and tests)."""
    if (cron is None) == (interval is None):
        raise ConfigError("give exactly one of a cron expression and an interval")
    entry: dict[str, Any] = {"cron": cron} if cron else {"interval": interval}
    if timezone:
        entry["timezone"] = timezone
    return replace(spec, schedules=(entry,))


def schedules(spec: DeploymentSpec) -> list[Schedule]:
    """Prefect schedule objects for the spec's raw entries, as `prefect deploy` builds them."""
    from prefect.schedules import Cron, Interval

    built = []
    for entry in spec.schedules:
        options = {"timezone": entry.get("timezone"), "active": entry.get("active", True),
                   "parameters": entry.get("parameters") or {}}
        if entry.get("cron"):
            built.append(Cron(entry["cron"], day_or=entry.get("day_or", True), **options))
        elif entry.get("interval"):
            built.append(Interval(dt.timedelta(seconds=float(entry["interval"])), **options))
        else:
            raise ConfigError(f"deployment {spec.name}: only cron and interval schedules are "
                              f"supported by `sco-etl serve`, got {entry!r}")
    return built


def load_flow(spec: DeploymentSpec) -> Flow:
    """The flow of the spec's entrypoint (ConfigError: no such module or flow)."""
    module_name, _, name = spec.entrypoint.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise  # the module exists and is broken: say so, never hide it
        raise ConfigError(f"deployment {spec.name}: {spec.entrypoint} does not exist") from e
    flow = getattr(module, name, None)
    if flow is None or not hasattr(flow, "to_deployment"):
        raise ConfigError(f"deployment {spec.name}: {spec.entrypoint} is not a Prefect flow")
    return flow


def runner_deployments(specs: list[DeploymentSpec],
                       extra_tags: tuple[str, ...] = ()) -> list[RunnerDeployment]:
    """The specs as deployments for `serve()`: no work pool, each flow imported by module."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.deployments.runner import EntrypointType

    built = []
    for spec in specs:
        limit = spec.concurrency_limit
        if isinstance(limit, dict):
            limit = ConcurrencyLimitConfig(**limit)
        built.append(load_flow(spec).to_deployment(
            name=spec.name, description=spec.description or None,
            tags=[*spec.tags, *extra_tags], parameters=spec.parameters,
            schedules=schedules(spec), concurrency_limit=limit,
            # By module, not file path: the runner finds the flow from any working directory.
            entrypoint_type=EntrypointType.MODULE_PATH,
        ))
    return built
