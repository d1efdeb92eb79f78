"""Build a stack's resource graph under Pulumi's mocks: no cloud, no CLI, no engine.

Used by the unit tests (``tests/infra/test_pulumi_*.py``)::

    graph = build_stack("dev")          # reads infra/Pulumi.dev.yaml
    graph.of_type("aws:sqs/queue:Queue")

Each build runs in a thread of its own: Pulumi keeps its settings, configuration and
root stack resource in context variables, so a fresh thread is a fresh program.
The mocks answer every resource with its inputs plus the outputs AWS would compute
(``arn``, ``id``, URLs, names) in AWS's formats, and refuse unknown invokes.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

from avs_infra.config import PROJECT

INFRA_DIR = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"
AMI = "ami-0123456789abcdef0"


@dataclass(frozen=True)
class Registered:
    """One resource as the program registered it (``inputs``: engine property names)."""

    type: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    id: str


@dataclass
class StackGraph:
    stack: str
    resources: list[Registered] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, token: str) -> list[Registered]:
        return [r for r in self.resources if r.type == token]

    def named(self, logical: str, token: str | None = None) -> Registered:
        found = [r for r in self.resources if r.name == logical and (token is None or r.type == token)]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {logical!r}")
        return found[0]

    def one(self, token: str, **match: Any) -> Registered:
        found = [r for r in self.of_type(token) if all(r.inputs.get(k) == v for k, v in match.items())]
        if len(found) != 1:
            raise KeyError(f"{len(found)} {token} with {match}")
        return found[0]


def _short(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _outputs(token: str, logical: str, inputs: Mapping[str, Any], region: str) -> tuple[str, dict[str, Any]]:
    """The id and computed outputs AWS would return for a new resource of ``token``."""
    name = str(inputs.get("name") or f"{logical}-{_short(logical)}")
    acct, reg = ACCOUNT, region
    out: dict[str, Any] = {"name": name}
    rid = f"{logical}-{_short(logical)}"
    if token == "aws:s3/bucket:Bucket":
        bucket = str(inputs.get("bucket") or name)
        rid = bucket
        out = {
            "bucket": bucket,
            "arn": f"arn:aws:s3:::{bucket}",
            "bucketRegionalDomainName": f"{bucket}.s3.{reg}.amazonaws.com",
        }
    elif token == "aws:sqs/queue:Queue":
        rid = f"https://sqs.{reg}.amazonaws.com/{acct}/{name}"
        out.update(arn=f"arn:aws:sqs:{reg}:{acct}:{name}", url=rid)
    elif token == "aws:sns/topic:Topic":
        rid = f"arn:aws:sns:{reg}:{acct}:{name}"
        out.update(arn=rid)
    elif token == "aws:dynamodb/table:Table":
        rid = name
        out.update(arn=f"arn:aws:dynamodb:{reg}:{acct}:table/{name}")
    elif token == "aws:sfn/stateMachine:StateMachine":
        rid = f"arn:aws:states:{reg}:{acct}:stateMachine:{name}"
        out.update(arn=rid)
    elif token == "aws:scheduler/scheduleGroup:ScheduleGroup":
        out.update(arn=f"arn:aws:scheduler:{reg}:{acct}:schedule-group/{name}")
    elif token == "aws:secretsmanager/secret:Secret":
        rid = f"arn:aws:secretsmanager:{reg}:{acct}:secret:{name}-{_short(name, 6)}"
        out.update(arn=rid)
    elif token == "aws:iam/role:Role":
        out.update(arn=f"arn:aws:iam::{acct}:role/{name}")
        rid = name
    elif token == "aws:ecr/repository:Repository":
        out.update(
            arn=f"arn:aws:ecr:{reg}:{acct}:repository/{name}",
            repositoryUrl=f"{acct}.dkr.ecr.{reg}.amazonaws.com/{name}",
        )
    elif token == "aws:ecs/cluster:Cluster":
        out.update(arn=f"arn:aws:ecs:{reg}:{acct}:cluster/{name}")
    elif token == "aws:ecs/taskDefinition:TaskDefinition":
        base = f"arn:aws:ecs:{reg}:{acct}:task-definition/{inputs.get('family')}"
        out = {"arn": f"{base}:1", "arnWithoutRevision": base, "revision": 1}
    elif token == "aws:cloudwatch/logGroup:LogGroup":
        out.update(arn=f"arn:aws:logs:{reg}:{acct}:log-group:{name}")
    elif token == "aws:cloudfront/distribution:Distribution":
        rid = "E" + _short(logical, 13).upper()
        out = {
            "arn": f"arn:aws:cloudfront::{acct}:distribution/{rid}",
            "domainName": f"d{_short(logical)}.cloudfront.net",
        }
    elif token == "aws:lb/loadBalancer:LoadBalancer":
        out.update(
            arn=f"arn:aws:elasticloadbalancing:{reg}:{acct}:loadbalancer/net/{name}/{_short(name, 16)}",
            dnsName=f"{name}-{_short(name)}.elb.{reg}.amazonaws.com",
        )
    elif token == "aws:lb/targetGroup:TargetGroup":
        out.update(arn=f"arn:aws:elasticloadbalancing:{reg}:{acct}:targetgroup/{name}/{_short(name, 16)}")
    elif token == "aws:elasticache/replicationGroup:ReplicationGroup":
        out = {"primaryEndpointAddress": f"master.{logical}.{_short(logical, 6)}.use1.cache.amazonaws.com"}
    elif token == "aws:ec2/instance:Instance":
        out = {
            "privateIp": "10.0.128.10",
            "arn": f"arn:aws:ec2:{reg}:{acct}:instance/i-{_short(logical, 17)}",
        }
    elif token == "aws:route53/zone:Zone":
        out.update(zoneId="Z" + _short(logical, 12).upper())
    elif token == "aws:apigateway/restApi:RestApi":
        out.update(rootResourceId=_short(logical, 10), executionArn=f"arn:aws:execute-api:{reg}:{acct}:{rid}")
    elif token == "aws:apigateway/stage:Stage":
        host = f"{_short(logical, 10)}.execute-api.{reg}.amazonaws.com"
        out = {"invokeUrl": f"https://{host}/{inputs.get('stageName')}"}
    elif token == "aws:kms/key:Key":
        rid = _short(logical, 32)
        out = {"arn": f"arn:aws:kms:{reg}:{acct}:key/{rid}", "keyId": rid}
    elif token == "aws:costexplorer/anomalyMonitor:AnomalyMonitor":
        out.update(arn=f"arn:aws:ce::{acct}:anomalymonitor/{_short(logical, 36)}")
    elif token == "aws:cloudwatch/eventRule:EventRule":
        out.update(arn=f"arn:aws:events:{reg}:{acct}:rule/{name}")
    else:
        module = token.split(":")[1].split("/")[0]
        out.setdefault("arn", f"arn:aws:{module}:{reg}:{acct}:{logical}")
    return rid, out


_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # Pulumi's marker of a secret value
_SIG_KEY = "4dabf18193072939515e22adb298388d"


def plain(value: Any) -> Any:
    """``value`` with Pulumi's secret wrappers removed (what the provider receives)."""
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return plain(value.get("value"))
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every registration and answers the two invokes the program makes."""

    def __init__(self, graph: StackGraph, region: str) -> None:
        self._graph = graph
        self._region = region
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        rid, computed = _outputs(args.typ, args.name, args.inputs, self._region)
        state = {**computed, **args.inputs}
        with self._lock:
            self._graph.resources.append(
                Registered(args.typ, args.name, plain(dict(args.inputs)), state, rid)
            )
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        with self._lock:
            self._graph.calls.append((args.token, dict(args.args)))
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            arn = f"arn:aws:iam::{ACCOUNT}:user/mock"
            return {"accountId": ACCOUNT, "arn": arn, "userId": "AIDAMOCK", "id": ACCOUNT}
        if args.token == "aws:ssm/getParameter:getParameter":
            name = args.args["name"]
            return {
                "name": name,
                "value": AMI,
                "insecureValue": AMI,
                "type": "String",
                "version": 1,
                "id": name,
                "arn": f"arn:aws:ssm:{self._region}::parameter{name}",
                "withDecryption": False,
            }
        raise NotImplementedError(f"the program invoked {args.token}, which the mocks do not know")


def stack_config(stack: str, overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """``infra/Pulumi.<stack>.yaml`` as the engine hands it to a program: structured values
    JSON-encoded, scalars as strings; ``overrides`` (short keys) in the project namespace."""
    doc = yaml.safe_load((INFRA_DIR / f"Pulumi.{stack}.yaml").read_text()) or {}
    values = dict(doc.get("config") or {})
    values.update({f"{PROJECT}:{k}": v for k, v in (overrides or {}).items()})
    out: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, dict | list):
            out[key] = json.dumps(value)
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def build_stack(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    program: Callable[[], Any] | None = None,
    secret_keys: list[str] | None = None,
) -> StackGraph:
    """Run ``program`` (default: :func:`avs_infra.program.build`) for ``stack`` under mocks
    and return every registered resource; an error in the program is raised here."""
    config = stack_config(stack, overrides)
    region = config.get("aws:region", "us-east-1")
    graph = StackGraph(stack)
    failure: list[BaseException] = []

    def run() -> None:
        from avs_infra.program import build

        loop = asyncio.new_event_loop()  # Pulumi's futures need a loop in this thread
        asyncio.set_event_loop(loop)
        try:
            mocks = RecordingMocks(graph, region)
            pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
            pulumi.runtime.set_all_config(config, secret_keys)

            @pulumi.runtime.test  # type: ignore[untyped-decorator]
            def body() -> None:
                (program or build)()

            body()
        except BaseException as exc:
            failure.append(exc)
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    thread = threading.Thread(target=run, name=f"pulumi-mocks-{stack}")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return graph


#: Config the deploy workflow adds to a stack file (the commit it built images for).
TEST_OVERRIDES: Mapping[str, Any] = {"imageTag": "0123456789abcdef"}


@functools.cache
def built(stack: str) -> StackGraph:
    """:func:`build_stack` of ``stack`` with :data:`TEST_OVERRIDES`, built once per process."""
    return build_stack(stack, TEST_OVERRIDES)
