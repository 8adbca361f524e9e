"""A second stack in the same account and region: no resource of template.yaml may have a fixed
physical name. A name the template sets must carry the stack's name (`!Sub
${AWS::StackName}-...`) or be built from a name CloudFormation generates (`!Sub
/aws/lambda/${SomeFunction}`); an EventBridge Scheduler schedule (a ScheduleV2 event) needs a
Name, since SAM would otherwise name it after its logical id, the same in every stack."""

from __future__ import annotations

import copy
import re
from typing import Any

from devtools.template import load_template

# Properties that set a resource's physical name (account- and region-wide unique ones).
NAME_PROPERTIES = frozenset(
    {
        "Name",
        "FunctionName",
        "TableName",
        "QueueName",
        "TopicName",
        "LogGroupName",
        "RoleName",
        "PolicyName",
        "ManagedPolicyName",
        "AlarmName",
        "DashboardName",
        "BucketName",
        "StateMachineName",
        "ScheduleGroupName",
        "LayerName",
        "KeyAlias",
        "AliasName",
        "RuleName",
    }
)
# Types whose `Name` is not a physical name (or is scoped inside the stack's own resource).
NOT_PHYSICAL = frozenset({"AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Stage"})
SCHEDULER_EVENTS = frozenset({"ScheduleV2"})
_SUBSTITUTION = re.compile(r"\$\{([^}!]+)\}")


def _unique_by_stack(value: Any, resources: dict[str, Any]) -> bool:
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"] in resources  # a generated name
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        text = text[0] if isinstance(text, list) else text
        names = _SUBSTITUTION.findall(str(text))
        return any(n == "AWS::StackName" or n.split(".")[0] in resources for n in names)
    return False


def fixed_names(template: dict[str, Any]) -> list[str]:
    """Every physical name in the template that would be the same in a second stack."""
    resources = template.get("Resources") or {}
    problems: list[str] = []
    for logical_id, resource in resources.items():
        kind = resource.get("Type", "")
        props = resource.get("Properties") or {}
        if kind not in NOT_PHYSICAL:
            for key in NAME_PROPERTIES & props.keys():
                if not _unique_by_stack(props[key], resources):
                    problems.append(f"{logical_id}.{key}: {props[key]!r}")
        for event_name, event in (props.get("Events") or {}).items():
            if event.get("Type") not in SCHEDULER_EVENTS:
                continue
            name = (event.get("Properties") or {}).get("Name")
            if name is None or not _unique_by_stack(name, resources):
                problems.append(f"{logical_id}.Events.{event_name}.Name: {name!r}")
    return problems


def test_no_resource_has_a_fixed_physical_name():
    assert fixed_names(load_template()) == []


def test_the_rule_finds_a_fixed_name_and_a_schedule_without_one():
    template = copy.deepcopy(load_template())
    resources = template["Resources"]
    resources["LoyaltyEventBus"]["Properties"]["Name"] = "loyalty-events"
    del resources["ExpiryScheduleFunction"]["Properties"]["Events"]["Daily"]["Properties"]["Name"]
    assert fixed_names(template) == [
        "LoyaltyEventBus.Name: 'loyalty-events'",
        "ExpiryScheduleFunction.Events.Daily.Name: None",
    ]
