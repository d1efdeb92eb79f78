"""docker-compose.local.yml, .env.local.example and infra/otel-collector.yaml, checked
by parsing them (no Docker daemon needed).

The variables the services read are derived, not listed here: every field of every
pydantic settings class of the packages (its env name from the prefix, alias or
alias choices) plus the names the code itself reads from ``os.environ`` (``OTEL_*``,
``AWS_*``), found in the source by its syntax tree.
"""

from __future__ import annotations

import ast
import importlib
import re
import shlex
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from avs_shared.settings import ServiceSettings, load_settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.local.yml"
ENV_EXAMPLE = REPO / ".env.local.example"
COLLECTOR_CONFIG = REPO / "infra" / "otel-collector.yaml"
SERVICE_DIRS = sorted(p.parent.name for p in (REPO / "services").glob("*/pyproject.toml"))
SEED = "provision-and-seed"
# Read by botocore itself (credential chain, per-service endpoints), not by our code.
LIBRARY_READ = {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
LIBRARY_READ_PATTERN = re.compile(r"AWS_ENDPOINT_URL_[A-Z0-9_]+")
# Reachable only through these emulator/infrastructure host names.
LOCAL_ENDPOINT = re.compile(r"localstack|:4566\b|moto|qdrant:6333|redis:6379|otel-collector")
EXAMPLE_LINE = re.compile(r"^#?\s?([A-Z][A-Z0-9_]*)=(.*)$")


# ---------------------------------------------------------------------------- loading
@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def compose_name(service_dir: str) -> str:
    return service_dir.replace("_", "-")


def app_services() -> list[str]:
    return [compose_name(d) for d in SERVICE_DIRS]


def environment(name: str) -> dict[str, str | None]:
    """The ``environment:`` of a compose service as a mapping (None = passed through)."""
    env = services()[name].get("environment") or {}
    if isinstance(env, list):
        out: dict[str, str | None] = {}
        for item in env:
            key, sep, value = str(item).partition("=")
            out[key] = value if sep else None
        return out
    return {k: None if v is None else str(v) for k, v in env.items()}


def depends_on(name: str) -> dict[str, dict[str, Any]]:
    deps = services()[name].get("depends_on") or {}
    if isinstance(deps, list):
        return {d: {"condition": "service_started"} for d in deps}
    return deps


def profiles(name: str) -> list[str]:
    return list(services()[name].get("profiles") or [])


def dockerfile_env(name: str) -> dict[str, str]:
    """ENV of the stage a compose service builds (the last, or its ``target``), inherited too."""
    build = services()[name].get("build")
    if not build:
        return {}
    stages: list[tuple[str | None, str, dict[str, str]]] = []  # (name, base, env)
    text = (REPO / build.get("context", ".") / build["dockerfile"]).read_text()
    text = re.sub(r"\\\n", " ", text)
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        if keyword.upper() == "FROM":
            tokens = rest.split()
            stages.append((tokens[2] if len(tokens) > 2 else None, tokens[0], {}))
        elif keyword.upper() == "ENV" and stages:
            for token in shlex.split(rest):
                key, sep, value = token.partition("=")
                if sep:
                    stages[-1][2][key] = value
    by_name = {s[0]: s for s in stages if s[0]}
    stage = by_name[build["target"]] if build.get("target") else stages[-1]
    chain = [stage]
    while chain[0][1] in by_name:
        chain.insert(0, by_name[chain[0][1]])
    env: dict[str, str] = {}
    for _, _, values in chain:
        env.update(values)
    return env


def final_stage_name(dockerfile: Path) -> str | None:
    froms = [line.split() for line in dockerfile.read_text().splitlines() if line.startswith("FROM ")]
    last = froms[-1]
    return last[3] if len(last) > 3 else None


def dockerfile_stages(dockerfile: Path) -> set[str]:
    return {
        parts[3]
        for parts in (line.split() for line in dockerfile.read_text().splitlines())
        if len(parts) > 3 and parts[0] == "FROM" and parts[2].upper() == "AS"
    }


def interpolated_names() -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_FILE.read_text()))


def shared_extras(service_dir: str) -> set[str]:
    project = tomllib.loads((REPO / "services" / service_dir / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"avs-shared(?:\[([^\]]*)\])?\s*", requirement)
        if match:
            return {e.strip() for e in (match[1] or "").split(",") if e.strip()}
    raise AssertionError(f"services/{service_dir} does not depend on avs-shared")


# ---------------------------------------------------------------------------- settings
def settings_modules() -> list[str]:
    modules = ["avs_shared.settings", "avs_cli.settings"]
    for service_dir in SERVICE_DIRS:
        if (REPO / "services" / service_dir / f"avs_{service_dir}" / "settings.py").exists():
            modules.append(f"avs_{service_dir}.settings")
    return modules


@cache
def settings_classes() -> tuple[type[BaseSettings], ...]:
    found: list[type[BaseSettings]] = []
    for module_name in settings_modules():
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseSettings)
                and value is not BaseSettings
                and value.__module__ == module_name
            ):
                found.append(value)
    return tuple(found)


def field_env_names(cls: type[BaseSettings], field_name: str) -> list[str]:
    """Env names of one field, in pydantic-settings' order of precedence."""
    info = cls.model_fields[field_name]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return [c.upper() for c in alias.choices if isinstance(c, str)]
    if isinstance(alias, str):
        return [alias.upper()]
    if info.alias:
        return [info.alias.upper()]
    return [(str(cls.model_config.get("env_prefix", "")) + field_name).upper()]


@cache
def settings_env_names() -> dict[str, tuple[type[BaseSettings], str]]:
    """Env name -> (the most specific class that reads it, its field)."""
    out: dict[str, tuple[type[BaseSettings], str]] = {}
    # ServiceSettings first, subclasses after: a subclass's field wins for its own names.
    for cls in sorted(settings_classes(), key=lambda c: len(c.__mro__)):
        for field_name in cls.model_fields:
            for env_name in field_env_names(cls, field_name):
                if env_name not in out or field_name not in out[env_name][0].model_fields:
                    out[env_name] = (cls, field_name)
    return out


def _source_files() -> Iterator[Path]:
    roots = [REPO / "shared" / "avs_shared", REPO / "cli" / "avs_cli"]
    roots += [REPO / "services" / d / f"avs_{d}" for d in SERVICE_DIRS]
    for root in roots:
        for path in root.rglob("*.py"):
            if "tests" not in path.relative_to(root).parts:
                yield path


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


@cache
def code_read_names() -> frozenset[str]:
    """Names the code reads from os.environ directly: get/getenv/[...]/``in`` with a literal."""
    names: set[str] = set()
    for path in _source_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            literal: ast.AST | None = None
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                if isinstance(func, ast.Attribute) and func.attr == "get" and _is_os_environ(func.value):
                    literal = node.args[0]
                elif (
                    isinstance(func, ast.Attribute)
                    and func.attr == "getenv"
                    and isinstance(func.value, ast.Name)
                    and func.value.id == "os"
                ):
                    literal = node.args[0]
            elif (
                isinstance(node, ast.Subscript)
                and _is_os_environ(node.value)
                and isinstance(node.ctx, ast.Load)
            ):
                literal = node.slice
            elif (
                isinstance(node, ast.Compare)
                and len(node.ops) == 1
                and isinstance(node.ops[0], ast.In | ast.NotIn)
                and _is_os_environ(node.comparators[0])
            ):
                literal = node.left
            if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                if re.fullmatch(r"[A-Z][A-Z0-9_]*", literal.value):
                    names.add(literal.value)
    return frozenset(names)


def known(name: str) -> bool:
    """Whether some service reads ``name`` (a settings class, our code, or botocore)."""
    return (
        name in settings_env_names()
        or name in code_read_names()
        or name in LIBRARY_READ
        or bool(LIBRARY_READ_PATTERN.fullmatch(name))
    )


def settings_class_for(service: str) -> type[ServiceSettings]:
    """The class a service container loads: its own ``avs_<svc>.settings`` subclass, if any."""
    if service == SEED:
        from avs_cli.settings import LocalSettings

        local: type[ServiceSettings] = LocalSettings
        return local
    module_name = f"avs_{service.replace('-', '_')}.settings"
    if module_name in settings_modules():
        module = importlib.import_module(module_name)
        own = [
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, ServiceSettings) and v.__module__ == module_name
        ]
        if own:
            chosen: type[ServiceSettings] = max(own, key=lambda c: len(c.__mro__))
            return chosen
    return ServiceSettings


def clear_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in {*settings_env_names(), *code_read_names(), *LIBRARY_READ}:
        monkeypatch.delenv(name, raising=False)


def example_entries() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = EXAMPLE_LINE.match(line.strip())
        if match:
            assert match[1] not in entries, f".env.local.example lists {match[1]} twice"
            entries[match[1]] = match[2].strip()
    return entries


# ---------------------------------------------------------------------------- the file
def test_compose_file_parses_with_the_expected_services() -> None:
    names = set(services())
    assert {"localstack", "qdrant", "redis", "otel-collector", SEED} <= names
    assert set(app_services()) <= names, "every services/<svc> package runs as a compose service"


def test_every_setting_class_is_found() -> None:
    names = {c.__name__ for c in settings_classes()}
    assert {"ServiceSettings", "ApiSettings", "LocalSettings"} <= names
    assert {"AWS_ENDPOINT_URL", "AVS_REDIS_URL", "QDRANT_URL", "AVS_API_PORT"} <= set(settings_env_names())
    assert {"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"} <= code_read_names()


# ---------------------------------------------------------------------------- build / image
@pytest.mark.parametrize("service_dir", SERVICE_DIRS)
def test_services_build_from_their_own_dockerfile(service_dir: str) -> None:
    name = compose_name(service_dir)
    service = services()[name]
    build = service["build"]
    assert build["context"] == ".", "build context = the repository root"
    assert build["dockerfile"] == f"services/{service_dir}/Dockerfile"
    dockerfile = REPO / build["dockerfile"]
    assert dockerfile.exists()
    if "target" in build:
        assert build["target"] == final_stage_name(dockerfile), (
            "the image deployed to ECS is the Dockerfile's default (last) stage"
        )
    assert service["image"] == f"avs/{name}:local"
    assert not build.get("args"), "nothing but the environment differs from the cloud image"


def test_seed_job_builds_a_stage_of_the_indexer_dockerfile() -> None:
    seed = services()[SEED]
    dockerfile = REPO / seed["build"]["dockerfile"]
    assert seed["build"]["context"] == "."
    assert seed["build"]["target"] in dockerfile_stages(dockerfile)
    assert seed["build"]["target"] != final_stage_name(dockerfile)
    assert seed.get("restart") == "no", "a one-shot job"
    assert seed["image"] == f"avs/{SEED}:local"
    assert "command" not in seed, "the job is the stage's CMD: `avs local up`, `avs bootstrap --aws`"
    for name in app_services():
        assert depends_on(name).get(SEED) == {"condition": "service_completed_successfully"}, name


@pytest.mark.parametrize("service_dir", SERVICE_DIRS)
def test_services_without_an_entry_point_are_marked(service_dir: str) -> None:
    """sync, enricher and image_ingestor get their ``__main__`` from other issues."""
    if (REPO / "services" / service_dir / f"avs_{service_dir}" / "__main__.py").exists():
        return
    name = compose_name(service_dir)
    block = re.search(rf"^  {re.escape(name)}:\n((?:    .*\n|\n)*)", COMPOSE_FILE.read_text(), re.M)
    assert block, name
    assert f"avs_{service_dir}/__main__.py" in block[1], f"{name}: say it needs its __main__ module"


# ---------------------------------------------------------------------------- dependencies
def test_every_depends_on_target_exists_with_a_known_condition() -> None:
    allowed = {"service_started", "service_healthy", "service_completed_successfully"}
    for name in services():
        for target, spec in depends_on(name).items():
            assert target in services(), f"{name} depends on unknown {target}"
            assert spec.get("condition") in allowed, f"{name} -> {target}: {spec}"
            if not profiles(name):
                assert not profiles(target), f"{name} (always on) depends on {target} (profile only)"


def test_healthchecks_exist_where_depends_on_waits_for_health() -> None:
    for name in services():
        for target, spec in depends_on(name).items():
            if spec["condition"] != "service_healthy":
                continue
            check = services()[target].get("healthcheck")
            if check is None:
                dockerfile = REPO / services()[target]["build"]["dockerfile"]
                assert "HEALTHCHECK CMD" in re.sub(r"\\\n\s*|--\S+\s+", "", dockerfile.read_text()), target
                continue
            assert not check.get("disable"), target
            assert check["test"][0] in {"CMD", "CMD-SHELL"}, f"{target}: {check['test']}"
            assert check.get("interval") and check.get("retries"), target


def test_one_shot_jobs_are_not_restarted() -> None:
    for name in services():
        for target, spec in depends_on(name).items():
            if spec["condition"] == "service_completed_successfully":
                assert services()[target].get("restart", "no") in {"no", "on-failure"}, target


def test_services_wait_for_what_their_environment_points_at() -> None:
    hosts = {"localstack", "redis", "qdrant", "otel-collector"}
    for name in [*app_services(), SEED]:
        for value in environment(name).values():
            host = urlsplit(value).hostname if value and "://" in value else None
            if host in hosts:
                assert host in depends_on(name), f"{name} uses {host} without depends_on"


# ---------------------------------------------------------------------------- ports
def published(name: str) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of a service's ``ports``."""
    out = []
    for entry in services()[name].get("ports") or []:
        parts = str(entry).split(":")
        ip, host, container = (parts if len(parts) == 3 else ["0.0.0.0", *parts])[:3]
        out.append((ip, int(host), int(container.split("/")[0])))
    return out


def test_published_ports_are_unique_and_local() -> None:
    seen: dict[int, str] = {}
    for name in services():
        for ip, host, _ in published(name):
            assert host not in seen, f"host port {host}: {seen.get(host)} and {name}"
            seen[host] = name
            assert ip == "127.0.0.1", f"{name} publishes {host} beyond loopback"


def test_api_and_localstack_ports() -> None:
    api_port = int(environment("api")["AVS_API_PORT"] or 0)
    assert ("127.0.0.1", 8000, api_port) in published("api") and api_port == 8000
    assert environment("api")["AVS_API_HOST"] == "0.0.0.0", "reachable from outside the container"
    assert ("127.0.0.1", 4566, 4566) in published("localstack")
    assert any(c == 6333 for _, _, c in published("qdrant"))
    assert any(c == 6379 for _, _, c in published("redis"))
    assert {4317, 4318} <= {c for _, _, c in published("otel-collector")}
    for name in app_services():
        if name != "api":
            assert not published(name), f"{name} is a worker: nothing to publish"


# ---------------------------------------------------------------------------- environment
def test_localstack_runs_every_aws_service_the_code_uses() -> None:
    wanted = set((environment("localstack")["SERVICES"] or "").split(","))
    used: set[str] = set()
    for path in _source_files():
        used |= set(re.findall(r"\.client\(\"([a-z0-9-]+)\"\)", path.read_text()))
    assert used, "the AwsClients.client(...) calls"
    assert used <= wanted, f"LocalStack SERVICES lacks {sorted(used - wanted)}"
    assert {"s3", "dynamodb", "sqs", "sns", "stepfunctions", "events", "scheduler"} <= wanted
    assert {"secretsmanager", "sts"} <= wanted


@pytest.mark.parametrize("name", [*[compose_name(d) for d in SERVICE_DIRS], SEED])
def test_service_environment_wires_the_local_infrastructure(name: str) -> None:
    env = environment(name)
    assert env.get("AWS_ENDPOINT_URL") == "http://localstack:4566"
    assert env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"), "dummy credentials"
    assert env.get("AWS_REGION")
    assert env.get("AVS_REDIS_URL") == "redis://redis:6379/0"
    assert env.get("OTEL_EXPORTER_OTLP_ENDPOINT") == "http://otel-collector:4318"
    assert (env.get("OTEL_SERVICE_NAME") or "").startswith("avs-")
    uses_qdrant = name == SEED or "qdrant" in shared_extras(name.replace("-", "_"))
    if uses_qdrant:
        assert env.get("QDRANT_URL") == "http://qdrant:6333", f"{name} needs the Qdrant server"
    else:
        assert "QDRANT_URL" not in env
    for alias_field in ("redis_url", "aws_region", "qdrant_url"):
        values = {env[n] for n in field_env_names(ServiceSettings, alias_field) if env.get(n)}
        assert len(values) <= 1, f"{name}: the aliases of {alias_field} disagree: {values}"


def test_otel_service_names_are_unique() -> None:
    names = [environment(n)["OTEL_SERVICE_NAME"] for n in [*app_services(), SEED]]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", [*[compose_name(d) for d in SERVICE_DIRS], SEED])
def test_every_variable_given_to_a_service_is_read_by_it(name: str) -> None:
    for var in environment(name):
        assert known(var), f"{name}: {var} is read by no settings class nor the code (a typo?)"
    for var in dockerfile_env(name):
        if var.startswith(("AVS_", "AWS_", "OTEL_", "QDRANT_", "REDIS_")):
            assert known(var), f"{name}'s image sets {var}, which nothing reads"


@pytest.mark.parametrize("name", [*[compose_name(d) for d in SERVICE_DIRS], SEED])
def test_tunables_come_from_an_optional_env_file(name: str) -> None:
    env_file = services()[name].get("env_file")
    assert env_file == [{"path": ".env.local", "required": False}], (
        f"{name}: .env.local as an optional env_file (compose >= 2.24), so tunables reach it "
        "without repeating their defaults here"
    )


@pytest.mark.parametrize("name", [*[compose_name(d) for d in SERVICE_DIRS], SEED])
def test_settings_validate_from_the_compose_environment(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings class each container builds accepts the image ENV + compose environment."""
    clear_environment(monkeypatch)
    given = {**dockerfile_env(name), **{k: v for k, v in environment(name).items() if v is not None}}
    for var, value in given.items():
        if known(var):
            monkeypatch.setenv(var, value)
    cls = settings_class_for(name)
    settings = load_settings(cls)
    assert settings.aws_endpoint_url == "http://localstack:4566"
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.aws_region == "us-east-1"
    assert str(settings.data_dir) == "/data", "the image's writable data dir"
    if "QDRANT_URL" in environment(name):
        assert settings.qdrant_url == "http://qdrant:6333"
    else:
        assert settings.qdrant_url is None
    if name == "api":
        from avs_api.settings import ApiSettings

        assert isinstance(settings, ApiSettings)
        assert (settings.api_host, settings.api_port) == ("0.0.0.0", 8000)
    if name == SEED:
        assert str(getattr(settings, "infra_dir", "")) == "/app/infra"


@pytest.mark.parametrize("name", [*[compose_name(d) for d in SERVICE_DIRS], SEED])
def test_switching_emulators_is_configuration_only(name: str) -> None:
    """Nothing but environment values points a service at LocalStack (moto and AWS alike)."""
    service = services()[name]
    for key in ("extra_hosts", "dns", "network_mode", "links", "entrypoint", "volumes", "command"):
        assert key not in service, f"{name}: {key} would make the container differ from the cloud's"
    rest = {k: v for k, v in service.items() if k not in {"environment", "depends_on"}}
    assert not LOCAL_ENDPOINT.search(yaml.safe_dump(rest)), f"{name}: an endpoint outside environment"
    for var, value in environment(name).items():
        if value and LOCAL_ENDPOINT.search(value):
            assert var in {
                "AWS_ENDPOINT_URL",
                "AVS_REDIS_URL",
                "QDRANT_URL",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            }, f"{name}: {var}={value}"
    image_env = dockerfile_env(name)
    assert not any(LOCAL_ENDPOINT.search(v) for v in image_env.values()), "no endpoint baked in"


# ---------------------------------------------------------------------------- .env.local.example
def test_env_example_lists_every_variable_the_services_read() -> None:
    listed = set(example_entries())
    missing = sorted((set(settings_env_names()) | code_read_names()) - listed)
    assert not missing, f".env.local.example lacks {missing}"


def test_env_example_lists_nothing_unknown() -> None:
    compose_only = interpolated_names() | {
        var
        for name in services()
        if name not in {*app_services(), SEED}
        for var, value in environment(name).items()
        if value is None
    }
    unknown = sorted(v for v in example_entries() if not known(v) and v not in compose_only)
    assert not unknown, f"read by no settings class, the code or the compose file: {unknown}"
    assert compose_only <= set(example_entries()), "the compose knobs are documented too"


def test_env_example_is_all_comments() -> None:
    """An unchanged copy must change nothing (it is the containers' env_file)."""
    for line in ENV_EXAMPLE.read_text().splitlines():
        assert not line.strip() or line.startswith("#"), line


def test_env_example_values_are_the_defaults_or_the_wiring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tunables show the settings default; wiring shows what compose or the images set."""
    wiring: dict[str, set[str]] = {}
    for name in [*app_services(), SEED]:
        for var, value in {**dockerfile_env(name), **environment(name)}.items():
            if value is not None:
                wiring.setdefault(var, set()).add(value)
    for var, value in example_entries().items():
        if not value or var not in settings_env_names():
            continue
        if var in wiring:
            assert value in wiring[var], f"{var}={value}: compose/images use {sorted(wiring[var])}"
            continue
        cls, field_name = settings_env_names()[var]
        clear_environment(monkeypatch)
        default = getattr(load_settings(cls), field_name)
        monkeypatch.setenv(var, value)
        assert getattr(load_settings(cls), field_name) == default, (
            f".env.local.example: {var}={value} is not the default of {cls.__name__}.{field_name}"
        )


# ---------------------------------------------------------------------------- collector
@cache
def collector() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(COLLECTOR_CONFIG.read_text())
    return config


def test_collector_mounts_the_config_and_receives_otlp() -> None:
    service = services()["otel-collector"]
    assert service["image"].startswith("otel/opentelemetry-collector-contrib:")
    mounts = [str(v).split(":") for v in service["volumes"]]
    target = next(m[1] for m in mounts if m[0] == "./infra/otel-collector.yaml")
    assert f"--config={target}" in service["command"]
    protocols = collector()["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")


def test_collector_pipelines_use_defined_components() -> None:
    config = collector()
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"{component} is not defined under {kind}"
    assert "debug" in config["service"]["pipelines"]["traces"]["exporters"]


def test_collector_exports_to_signoz_only_with_its_profile() -> None:
    config = collector()
    override = next(a for a in services()["otel-collector"]["command"] if a.startswith("--config=yaml:"))
    match = re.search(r"traces::exporters: \$\{OTELCOL_TRACES_EXPORTERS:-(\[[^\]]*\])\}", override)
    assert match, override
    assert yaml.safe_load(match[1]) == ["debug"], "debug only unless SigNoz is asked for"
    assert "otlp/signoz" not in config["service"]["pipelines"]["traces"]["exporters"]
    host = config["exporters"]["otlp/signoz"]["endpoint"].split(":")[0]
    assert host in services() and profiles(host) == ["signoz"]
    signoz = [n for n in services() if n.startswith("signoz")]
    assert "signoz" in signoz
    for name in signoz:
        assert profiles(name) == ["signoz"], f"{name} must be optional"
        for source in services()[name].get("configs") or []:
            assert source["source"] in compose().get("configs", {}), source
