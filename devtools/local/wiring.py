"""What template.yaml wires, read for the local stack: the functions (code, handler,
environment with every intrinsic resolved to a local value), the HTTP API's routes and JWT
authorizer, the SQS queues and their consumers, the table's stream consumers and the schedules.

Nothing here is specific to one function or route: a route, queue, consumer or schedule added
to the template is served locally without a code change."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.template import TemplateError, load_template, table_resource

FUNCTION_TYPE = "AWS::Serverless::Function"
LAYER_TYPE = "AWS::Serverless::LayerVersion"
QUEUE_TYPE = "AWS::SQS::Queue"
BUS_TYPE = "AWS::Events::EventBus"
HTTP_API_TYPE = "AWS::Serverless::HttpApi"
SCHEDULER_TYPE = "AWS::Scheduler::Schedule"
RULE_TYPE = "AWS::Events::Rule"
IMPLICIT_HTTP_API = "ServerlessHttpApi"

ACCOUNT_ID = "000000000000"
LOCAL_ISSUER = "loyalty-local-dev"
LOCAL_AUDIENCE = "loyalty-local"


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


@dataclass(frozen=True)
class LocalNames:
    """The local stand-ins of the deployment's names."""

    table_name: str
    stack_name: str = "loyalty-local"
    region: str = "us-east-1"
    account: str = ACCOUNT_ID
    queue_endpoint: str = "http://127.0.0.1:0"  # the local SQS endpoint (devtools.local.aws)
    parameters: Mapping[str, Any] = field(default_factory=dict)  # overrides of template parameters


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    layer_dirs: tuple[Path, ...]


@dataclass(frozen=True)
class RouteSpec:
    """One HTTP API route: `GET /members/{memberId}`, `ANY /x/{proxy+}` or `$default`."""

    method: str
    path: str
    function: str
    event: str
    api: str
    authorizer: str | None  # None: the route is open (Auth.Authorizer: NONE, or no authorizer)
    scopes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class JwtAuthorizer:
    name: str
    issuer: str
    audience: tuple[str, ...]
    identity_source: str = "$request.header.Authorization"


@dataclass(frozen=True)
class CorsSpec:
    allow_origins: tuple[str, ...]
    allow_headers: tuple[str, ...]
    allow_methods: tuple[str, ...]
    expose_headers: tuple[str, ...]
    max_age: int | None
    allow_credentials: bool


@dataclass(frozen=True)
class HttpApiSpec:
    logical_id: str
    default_authorizer: str | None
    authorizers: dict[str, JwtAuthorizer]
    cors: CorsSpec | None


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    url: str
    arn: str
    dead_letter: str | None  # logical id of the dead-letter queue (RedrivePolicy)
    max_receive_count: int | None
    visibility_timeout: int
    fifo: bool


@dataclass(frozen=True)
class QueueConsumer:
    function: str
    event: str
    queue: str  # logical id
    batch_size: int
    report_failures: bool
    enabled: bool


@dataclass(frozen=True)
class StreamConsumer:
    function: str
    event: str
    batch_size: int
    patterns: tuple[dict[str, Any], ...]
    max_retries: int  # -1: until it succeeds (capped locally)
    on_failure_queue: str | None  # logical id
    report_failures: bool
    starting_position: str
    enabled: bool


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule that invokes a function: an `Schedule`/`ScheduleV2` event of a function, an
    `AWS::Scheduler::Schedule` or an `AWS::Events::Rule` with a ScheduleExpression."""

    key: str  # Function.Event or the resource's logical id
    short_name: str
    function: str
    expression: str
    timezone: str
    input: str | None
    enabled: bool
    arn: str

    @property
    def time_of_day(self) -> tuple[int, int]:
        """(hour, minute) of a daily `cron(m h ...)` expression; (0, 0) otherwise."""
        match = re.match(r"^cron\(\s*(\d+)\s+(\d+)\s", self.expression)
        return (int(match.group(2)), int(match.group(1))) if match else (0, 0)

    @property
    def frequent(self) -> bool:
        """Every few minutes (`rate(1 minute)` to `rate(5 minutes)`): the local stack runs it
        after each delivery of the stream, as if its next run had come (what it keeps, such
        as the leaderboard, then follows the local changes at once)."""
        match = re.match(r"^rate\(\s*(\d+)\s+minutes?\s*\)$", self.expression)
        return match is not None and 1 <= int(match.group(1)) <= 5


@dataclass(frozen=True)
class EventRuleSpec:
    """An EventBridge rule whose targets are local functions or queues (the local bus delivers
    matching events to them)."""

    key: str
    bus: str
    pattern: dict[str, Any]
    functions: tuple[str, ...]
    queues: tuple[str, ...]


class Wiring:
    """template.yaml, read once, with local values for every name it makes."""

    def __init__(self, template_path: str | Path, names: LocalNames) -> None:
        self.path = Path(template_path).resolve()
        self.root = self.path.parent
        self.names = names
        self.data = load_template(self.path)
        self.resources: dict[str, Any] = {
            key: value
            for key, value in (self.data.get("Resources") or {}).items()
            if isinstance(value, dict)
        }
        self.warnings: list[str] = []
        self.table_id, _ = table_resource(self.path)
        self.parameters = self._parameters()
        self._conditions: dict[str, bool] = {}
        self.globals: dict[str, Any] = (self.data.get("Globals") or {}).get("Function") or {}
        self.queues = self._queues()
        self.buses = {
            logical_id: self._bus_name(logical_id)
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == BUS_TYPE
        }
        self.functions = self._functions()
        self.apis = self._apis()
        self.routes: list[RouteSpec] = []
        self.queue_consumers: list[QueueConsumer] = []
        self.stream_consumers: list[StreamConsumer] = []
        self.schedules: list[ScheduleSpec] = []
        self.rules: list[EventRuleSpec] = []
        self._events()
        self._standalone_schedules_and_rules()
        self._name_schedules()

    # ---- names ---------------------------------------------------------------------------

    def _parameters(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in (self.data.get("Parameters") or {}).items():
            spec = spec or {}
            kind = str(spec.get("Type", "String"))
            if name in self.names.parameters:
                value = self.names.parameters[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                value = [] if kind.startswith("CommaDelimitedList") or "List<" in kind else ""
            if kind == "CommaDelimitedList" and isinstance(value, str):
                value = [item.strip() for item in value.split(",")] if value else []
            elif isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, int | float):
                value = str(value)
            values[name] = value
        return values

    def queue_name(self, logical_id: str) -> str:
        props = self.resources[logical_id].get("Properties") or {}
        if props.get("QueueName"):
            return str(self.resolve(props["QueueName"]))
        fifo = str(props.get("FifoQueue", "")).lower() == "true"
        return f"{self.names.stack_name}-{logical_id}" + (".fifo" if fifo else "")

    def _bus_name(self, logical_id: str) -> str:
        props = self.resources[logical_id].get("Properties") or {}
        return str(self.resolve(props["Name"])) if props.get("Name") else logical_id

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.names.region}:{self.names.account}:{resource}"

    def physical_id(self, logical_id: str) -> Any:
        """What `!Ref logical_id` gives locally."""
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"!Ref {logical_id}: no such parameter or resource")
        kind = resource.get("Type")
        if logical_id == self.table_id:
            return self.names.table_name
        if kind == QUEUE_TYPE:
            return f"{self.names.queue_endpoint}/{self.names.account}/{self.queue_name(logical_id)}"
        if kind == BUS_TYPE:
            return self._bus_name(logical_id)
        if kind == FUNCTION_TYPE:
            return f"{self.names.stack_name}-{logical_id}"
        if kind == LAYER_TYPE:
            return self.arn("lambda", f"layer:{logical_id}:1")
        if kind == "AWS::SNS::Topic":
            return self.arn("sns", f"{self.names.stack_name}-{logical_id}")
        return f"{self.names.stack_name}-{logical_id}"

    def attribute(self, logical_id: str, name: str) -> Any:
        """What `!GetAtt logical_id.name` gives locally."""
        resource = self.resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"!GetAtt {logical_id}.{name}: no such resource")
        kind = resource.get("Type")
        if logical_id == self.table_id:
            table = self.names.table_name
            if name == "StreamArn":
                return self.arn("dynamodb", f"table/{table}/stream/local")
            return self.arn("dynamodb", f"table/{table}")
        if kind == QUEUE_TYPE:
            queue = self.queue_name(logical_id)
            return {
                "Arn": self.arn("sqs", queue),
                "QueueName": queue,
                "QueueUrl": self.physical_id(logical_id),
            }.get(name, f"{queue}.{name}")
        if kind == BUS_TYPE:
            bus = self._bus_name(logical_id)
            return bus if name == "Name" else self.arn("events", f"event-bus/{bus}")
        if kind == FUNCTION_TYPE:
            return self.arn("lambda", f"function:{self.names.stack_name}-{logical_id}")
        return self.arn("local", f"{logical_id}/{name}")

    # ---- intrinsic functions ---------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function evaluated locally (AWS::NoValue removed)."""
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if key == "Ref" or key.startswith("Fn::"):
                    return self._intrinsic(key, argument)
            resolved = {key: self.resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        return value

    def _pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": self.names.region,
            "AWS::AccountId": self.names.account,
            "AWS::StackName": self.names.stack_name,
            "AWS::StackId": self.arn("cloudformation", f"stack/{self.names.stack_name}/local"),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
        }.get(name, KeyError)

    def _ref(self, name: str) -> Any:
        pseudo = self._pseudo(name)
        if pseudo is not KeyError:
            return pseudo
        if name in self.parameters:
            return self.parameters[name]
        return self.physical_id(name)

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self.data.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"no condition {name}")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def _intrinsic(self, key: str, argument: Any) -> Any:
        if key == "Ref":
            return self._ref(str(argument))
        if key == "Fn::GetAtt":
            parts = argument.split(".", 1) if isinstance(argument, str) else list(argument)
            return self.attribute(str(parts[0]), str(self.resolve(parts[1])))
        if key == "Fn::Sub":
            return self._sub(argument)
        if key == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        if key == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._truth(argument[0])
        if key == "Fn::And":
            return all(self._truth(item) for item in argument)
        if key == "Fn::Or":
            return any(self._truth(item) for item in argument)
        if key == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(item) for item in self.resolve(items))
        if key == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(str(separator))
        if key == "Fn::ToJsonString":
            return json.dumps(self.resolve(argument), separators=(",", ":"))
        if key == "Fn::Base64":
            import base64

            return base64.b64encode(str(self.resolve(argument)).encode()).decode()
        if key == "Fn::FindInMap":
            table, first, second = (self.resolve(item) for item in argument)
            return self.resolve((self.data.get("Mappings") or {})[table][first][second])
        if key == "Fn::GetAZs":
            return [f"{self.names.region}{zone}" for zone in "abc"]
        if key == "Fn::Length":
            return len(self.resolve(argument))
        raise TemplateError(f"{key} is not available locally")

    def _truth(self, value: Any) -> bool:
        if isinstance(value, dict) and set(value) == {"Condition"}:
            return self.condition(str(value["Condition"]))
        return bool(self.resolve(value))

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1] if len(argument) > 1 else {})
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self.attribute(logical_id, attribute))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, str(text))

    # ---- resources -----------------------------------------------------------------------

    def _queues(self) -> dict[str, QueueSpec]:
        queues: dict[str, QueueSpec] = {}
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != QUEUE_TYPE:
                continue
            raw_props = resource.get("Properties") or {}
            props = self.resolve(raw_props)
            policy = props.get("RedrivePolicy") or {}
            if isinstance(policy, str):
                policy = json.loads(policy)
            raw_policy = raw_props.get("RedrivePolicy")
            raw_target = (
                raw_policy.get("deadLetterTargetArn") if isinstance(raw_policy, dict) else None
            )
            target = self._logical_id_from(
                raw_target, str(policy.get("deadLetterTargetArn") or ""), QUEUE_TYPE
            )
            count = policy.get("maxReceiveCount")
            queues[logical_id] = QueueSpec(
                logical_id=logical_id,
                name=self.queue_name(logical_id),
                url=str(self.physical_id(logical_id)),
                arn=str(self.attribute(logical_id, "Arn")),
                dead_letter=target,
                max_receive_count=int(count) if count is not None else None,
                visibility_timeout=int(props.get("VisibilityTimeout", 30)),
                fifo=str(props.get("FifoQueue", "")).lower() == "true",
            )
        return queues

    def _logical_id_from(self, raw: Any, resolved: str, kind: str) -> str | None:
        """The logical id a reference (`!GetAtt X.Arn`, `!Ref X`, or a literal ARN/URL/name of
        a local resource) points at."""
        if isinstance(raw, dict):
            if "Fn::GetAtt" in raw:
                target = raw["Fn::GetAtt"]
                target = target.split(".", 1)[0] if isinstance(target, str) else target[0]
                return str(target) if target in self.resources else None
            if "Ref" in raw and raw["Ref"] in self.resources:
                return str(raw["Ref"])
        if not resolved:
            return None
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != kind:
                continue
            if kind == QUEUE_TYPE:
                spec_names = {
                    self.queue_name(logical_id),
                    str(self.attribute(logical_id, "Arn")),
                    str(self.physical_id(logical_id)),
                }
                if resolved in spec_names or resolved.rsplit(":", 1)[-1] in spec_names:
                    return logical_id
            elif kind == FUNCTION_TYPE and resolved in {
                str(self.attribute(logical_id, "Arn")),
                str(self.physical_id(logical_id)),
            }:
                return logical_id
        return None

    def _layer_dirs(self, layers: list[Any]) -> tuple[Path, ...]:
        dirs: list[Path] = []
        for layer in layers:
            target = layer.get("Ref") if isinstance(layer, dict) else None
            resource = self.resources.get(str(target)) if target else None
            if resource is None or resource.get("Type") != LAYER_TYPE:
                self.warnings.append(f"layer {layer!r} is not a local LayerVersion; ignored")
                continue
            content = (resource.get("Properties") or {}).get("ContentUri")
            if not isinstance(content, str):
                self.warnings.append(f"layer {target} has no local ContentUri; ignored")
                continue
            directory = (self.root / content).resolve()
            # A prebuilt layer zip layout keeps its packages under python/.
            dirs.append(directory / "python" if (directory / "python").is_dir() else directory)
        return tuple(dirs)

    def _functions(self) -> dict[str, FunctionSpec]:
        functions: dict[str, FunctionSpec] = {}
        global_env = ((self.globals.get("Environment") or {}).get("Variables")) or {}
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != FUNCTION_TYPE:
                continue
            props = resource.get("Properties") or {}
            code_uri = props.get("CodeUri", self.globals.get("CodeUri"))
            handler = props.get("Handler", self.globals.get("Handler"))
            if not isinstance(code_uri, str) or not isinstance(handler, str):
                self.warnings.append(f"{logical_id}: no local CodeUri/Handler; not served")
                continue
            variables = dict(global_env) | dict(
                ((props.get("Environment") or {}).get("Variables")) or {}
            )
            environment: dict[str, str] = {}
            for name, raw in variables.items():
                try:
                    value = self.resolve(raw)
                except (TemplateError, KeyError, IndexError, TypeError, ValueError) as error:
                    self.warnings.append(f"{logical_id}: environment {name} left out ({error})")
                    continue
                if value is NO_VALUE:
                    continue
                if isinstance(value, bool):
                    value = "true" if value else "false"
                environment[name] = value if isinstance(value, str) else json.dumps(value)
            layers = list(self.globals.get("Layers") or []) + list(props.get("Layers") or [])
            functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                name=str(self.physical_id(logical_id)),
                arn=str(self.attribute(logical_id, "Arn")),
                code_dir=(self.root / code_uri).resolve(),
                handler=handler,
                environment=environment,
                timeout=int(props.get("Timeout", self.globals.get("Timeout", 3))),
                memory=int(props.get("MemorySize", self.globals.get("MemorySize", 128))),
                layer_dirs=self._layer_dirs(layers),
            )
        return functions

    def _apis(self) -> dict[str, HttpApiSpec]:
        apis: dict[str, HttpApiSpec] = {}
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != HTTP_API_TYPE:
                continue
            props = resource.get("Properties") or {}
            auth = props.get("Auth") or {}
            authorizers: dict[str, JwtAuthorizer] = {}
            for name, spec in (auth.get("Authorizers") or {}).items():
                jwt = spec.get("JwtConfiguration")
                if not jwt:
                    self.warnings.append(
                        f"{logical_id}: authorizer {name} is not a JWT authorizer; local dev "
                        "tokens stand in for it"
                    )
                    jwt = {}
                issuer = self._safe(jwt.get("issuer"), LOCAL_ISSUER)
                audience = self._safe(jwt.get("audience"), [LOCAL_AUDIENCE])
                authorizers[name] = JwtAuthorizer(
                    name=name,
                    issuer=str(issuer),
                    audience=tuple(audience if isinstance(audience, list) else [audience]),
                    identity_source=str(
                        spec.get("IdentitySource", "$request.header.Authorization")
                    ),
                )
            apis[logical_id] = HttpApiSpec(
                logical_id=logical_id,
                default_authorizer=auth.get("DefaultAuthorizer"),
                authorizers=authorizers,
                cors=self._cors(props.get("CorsConfiguration")),
            )
        return apis

    def _safe(self, value: Any, default: Any) -> Any:
        if value is None:
            return default
        try:
            return self.resolve(value)
        except (TemplateError, KeyError, IndexError, TypeError, ValueError) as error:
            self.warnings.append(f"could not resolve {value!r} locally ({error})")
            return default

    def _cors(self, config: Any) -> CorsSpec | None:
        if not config:
            return None
        if config is True:
            config = {"AllowOrigins": ["*"]}
        config = self._safe(config, {})

        def strings(name: str) -> tuple[str, ...]:
            value = config.get(name) or []
            return tuple(str(item) for item in (value if isinstance(value, list) else [value]))

        max_age = config.get("MaxAge")
        return CorsSpec(
            allow_origins=strings("AllowOrigins"),
            allow_headers=tuple(header.lower() for header in strings("AllowHeaders")),
            allow_methods=tuple(method.upper() for method in strings("AllowMethods")),
            expose_headers=strings("ExposeHeaders"),
            max_age=int(max_age) if max_age is not None else None,
            allow_credentials=bool(config.get("AllowCredentials", False)),
        )

    # ---- events --------------------------------------------------------------------------

    def _events(self) -> None:
        for logical_id, resource in self.resources.items():
            if logical_id not in self.functions:
                continue
            events = (resource.get("Properties") or {}).get("Events") or {}
            for event_name, event in events.items():
                kind = (event or {}).get("Type")
                props = (event or {}).get("Properties") or {}
                where = f"{logical_id}.Events.{event_name}"
                if kind == "HttpApi":
                    self._route(logical_id, event_name, props)
                elif kind == "SQS":
                    queue = self._logical_id_from(
                        props.get("Queue"), str(self._safe(props.get("Queue"), "")), QUEUE_TYPE
                    )
                    if queue is None:
                        self.warnings.append(f"{where}: its queue is not in the template")
                        continue
                    self.queue_consumers.append(
                        QueueConsumer(
                            function=logical_id,
                            event=event_name,
                            queue=queue,
                            batch_size=int(props.get("BatchSize", 10)),
                            report_failures="ReportBatchItemFailures"
                            in (props.get("FunctionResponseTypes") or []),
                            enabled=props.get("Enabled", True) is not False,
                        )
                    )
                elif kind == "DynamoDB":
                    self._stream_consumer(logical_id, event_name, props, where)
                elif kind in ("Schedule", "ScheduleV2"):
                    self._function_schedule(logical_id, event_name, props)
                elif kind in ("EventBridgeRule", "CloudWatchEvent"):
                    bus = self._safe(props.get("EventBusName"), "default")
                    self.rules.append(
                        EventRuleSpec(
                            key=f"{logical_id}.{event_name}",
                            bus=str(bus),
                            pattern=dict(self._safe(props.get("Pattern"), {}) or {}),
                            functions=(logical_id,),
                            queues=(),
                        )
                    )
                else:
                    self.warnings.append(f"{where}: event type {kind} is not run locally")

    def _route(self, function: str, event_name: str, props: Mapping[str, Any]) -> None:
        api_ref = props.get("ApiId")
        api = api_ref.get("Ref") if isinstance(api_ref, dict) else None
        api = str(api or IMPLICIT_HTTP_API)
        spec = self.apis.get(api)
        method = str(props.get("Method", "ANY")).upper()
        path = str(props.get("Path", "$default"))
        if path == "$default" or (not props.get("Path") and not props.get("Method")):
            method, path = "ANY", "$default"
        auth = props.get("Auth") or {}
        authorizer = auth.get("Authorizer", spec.default_authorizer if spec else None)
        if authorizer == "NONE":
            authorizer = None
        scopes = tuple(str(scope) for scope in (auth.get("AuthorizationScopes") or []))
        self.routes.append(
            RouteSpec(
                method="ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method,
                path=path,
                function=function,
                event=event_name,
                api=api,
                authorizer=str(authorizer) if authorizer else None,
                scopes=scopes,
            )
        )

    def _stream_consumer(
        self, function: str, event_name: str, props: Mapping[str, Any], where: str
    ) -> None:
        from devtools.local.streams import load_patterns

        stream = props.get("Stream")
        target = None
        if isinstance(stream, dict) and "Fn::GetAtt" in stream:
            target = stream["Fn::GetAtt"]
            target = target.split(".", 1)[0] if isinstance(target, str) else target[0]
        if target != self.table_id:
            self.warnings.append(f"{where}: not the table's stream; not delivered locally")
            return
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        on_failure = self._logical_id_from(
            destination, str(self._safe(destination, "") or ""), QUEUE_TYPE
        )
        self.stream_consumers.append(
            StreamConsumer(
                function=function,
                event=event_name,
                batch_size=int(props.get("BatchSize", 100)),
                patterns=tuple(load_patterns(self._safe(props.get("FilterCriteria"), {}))),
                max_retries=int(props.get("MaximumRetryAttempts", -1)),
                on_failure_queue=on_failure,
                report_failures="ReportBatchItemFailures"
                in (props.get("FunctionResponseTypes") or []),
                starting_position=str(props.get("StartingPosition", "LATEST")),
                enabled=props.get("Enabled", True) is not False,
            )
        )

    def _function_schedule(self, function: str, event_name: str, props: Mapping[str, Any]) -> None:
        state = props.get("State")
        enabled = props.get("Enabled", True) is not False and state != "DISABLED"
        name = props.get("Name")
        self.schedules.append(
            ScheduleSpec(
                key=f"{function}.{event_name}",
                short_name="",
                function=function,
                expression=str(
                    self._safe(props.get("Schedule", props.get("ScheduleExpression")), "")
                ),
                timezone=str(props.get("ScheduleExpressionTimezone", "UTC")),
                input=self._input(props.get("Input")),
                enabled=enabled,
                arn=self.arn(
                    "scheduler",
                    f"schedule/default/{self._safe(name, None) or f'{function}-{event_name}'}",
                ),
            )
        )

    def _input(self, raw: Any) -> str | None:
        value = self._safe(raw, None)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def _standalone_schedules_and_rules(self) -> None:
        for logical_id, resource in self.resources.items():
            kind = resource.get("Type")
            props = resource.get("Properties") or {}
            if kind == SCHEDULER_TYPE:
                target = props.get("Target") or {}
                function = self._logical_id_from(
                    target.get("Arn"), str(self._safe(target.get("Arn"), "")), FUNCTION_TYPE
                )
                if function is None or function not in self.functions:
                    self.warnings.append(f"{logical_id}: its target is not a local function")
                    continue
                self.schedules.append(
                    ScheduleSpec(
                        key=logical_id,
                        short_name="",
                        function=function,
                        expression=str(self._safe(props.get("ScheduleExpression"), "")),
                        timezone=str(props.get("ScheduleExpressionTimezone", "UTC")),
                        input=self._input(target.get("Input")),
                        enabled=props.get("State", "ENABLED") != "DISABLED",
                        arn=self.arn("scheduler", f"schedule/default/{logical_id}"),
                    )
                )
            elif kind == RULE_TYPE:
                functions: list[str] = []
                queues: list[str] = []
                for target in props.get("Targets") or []:
                    resolved = str(self._safe(target.get("Arn"), ""))
                    function = self._logical_id_from(target.get("Arn"), resolved, FUNCTION_TYPE)
                    queue = self._logical_id_from(target.get("Arn"), resolved, QUEUE_TYPE)
                    if function in self.functions:
                        functions.append(str(function))
                        if props.get("ScheduleExpression"):
                            self.schedules.append(
                                ScheduleSpec(
                                    key=logical_id
                                    if len(functions) == 1
                                    else f"{logical_id}.{function}",
                                    short_name="",
                                    function=str(function),
                                    expression=str(self._safe(props["ScheduleExpression"], "")),
                                    timezone="UTC",
                                    input=self._input(target.get("Input")),
                                    enabled=props.get("State", "ENABLED") != "DISABLED",
                                    arn=self.arn("events", f"rule/{logical_id}"),
                                )
                            )
                    elif queue is not None:
                        queues.append(queue)
                if props.get("EventPattern") and (functions or queues):
                    bus = self._safe(props.get("EventBusName"), "default")
                    pattern = self._safe(props["EventPattern"], {})
                    if isinstance(pattern, str):
                        pattern = json.loads(pattern)
                    self.rules.append(
                        EventRuleSpec(
                            key=logical_id,
                            bus=str(bus),
                            pattern=dict(pattern),
                            functions=tuple(functions),
                            queues=tuple(queues),
                        )
                    )

    def _name_schedules(self) -> None:
        """Short names: `ExpiryScheduleFunction.Daily` → `expiry` (suffixes Function and
        Schedule dropped, kebab-case); the event's name is added when a function has several."""

        def kebab(text: str) -> str:
            return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", text).lower()

        def base(schedule: ScheduleSpec) -> str:
            stem = schedule.key.split(".", 1)[0]
            for suffix in ("Function", "Schedule", "Rule", "Job"):
                if stem.endswith(suffix) and stem != suffix:
                    stem = stem[: -len(suffix)]
            return kebab(stem)

        counts: dict[str, int] = {}
        for schedule in self.schedules:
            counts[base(schedule)] = counts.get(base(schedule), 0) + 1
        named: list[ScheduleSpec] = []
        taken: set[str] = set()
        for schedule in self.schedules:
            short = base(schedule)
            if counts[short] > 1 and "." in schedule.key:
                short = f"{short}-{kebab(schedule.key.split('.', 1)[1])}"
            if short in taken:
                short = schedule.key
            taken.add(short)
            named.append(
                ScheduleSpec(**{**schedule.__dict__, "short_name": short})  # frozen copy
            )
        self.schedules = sorted(named, key=lambda s: (s.time_of_day, s.short_name))

    # ---- lookups -------------------------------------------------------------------------

    def schedule(self, name: str) -> ScheduleSpec:
        """A schedule by short name, key (`Function.Event`) or function logical id."""
        wanted = name.lower()
        for schedule in self.schedules:
            if wanted in (schedule.short_name.lower(), schedule.key.lower()):
                return schedule
        by_function = [s for s in self.schedules if s.function.lower() == wanted]
        if len(by_function) == 1:
            return by_function[0]
        known = ", ".join(s.short_name for s in self.schedules)
        raise KeyError(f"no schedule {name!r} (known: {known})")

    def queue(self, name: str) -> QueueSpec:
        """A queue by logical id, local name or URL (case-insensitive logical id)."""
        for spec in self.queues.values():
            if name in (spec.logical_id, spec.name, spec.url, spec.arn):
                return spec
        for spec in self.queues.values():
            if spec.logical_id.lower() == name.lower():
                return spec
        raise KeyError(f"no queue {name!r} (known: {', '.join(self.queues)})")

    def consumers_of(self, queue: str) -> list[QueueConsumer]:
        return [c for c in self.queue_consumers if c.queue == queue and c.enabled]

    def sources_of(self, dead_letter: str) -> list[str]:
        """The queues whose redrive policy sends to `dead_letter`."""
        return [q.logical_id for q in self.queues.values() if q.dead_letter == dead_letter]
