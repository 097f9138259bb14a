"""Every name, description and tag value the stack creates, checked against AWS's limits.

Usage: limits.py TRANSLATED_TEMPLATE.json [SCOPE]

SCOPE is stack, account or organization for sam/template.yaml, or spoke for sam/spoke.yaml (with
the longest SpokeRolePrefix, and a hub bus named as the longest hub names it).

Resolves the translated template (Ref, Fn::Sub, Fn::GetAtt, Fn::If, Fn::Join, Fn::Split,
Fn::Select) with the LONGEST values its parameters' AllowedPattern admit for ProjectName and
Environment (the parts of every name), every optional resource switched on, in SCOPE (stack or
account, default stack), and checks each value against:

- the API model's constraints (min, max, pattern) of the request member the property becomes,
  read from botocore's service models (the SDKs' own copy of the API definitions);
- where the rule is in the API reference's prose only (EC2 security group and rule
  descriptions, SQS queue names, Lambda function names, ECS names, SNS topic names), that rule,
  with the document named.

Prints JSON: {"checked": N, "violations": [{"resource", "property", "value", "rule"}]}.
"""

import json
import re
import sys

import botocore.session

SESSION = botocore.session.get_session()
MODELS = {}


def shape_rule(service, operation, member):
    """(min, max, pattern) of an operation's input member, from botocore's model."""
    if service not in MODELS:
        MODELS[service] = SESSION.get_service_model(service)
    shape = MODELS[service].operation_model(operation).input_shape
    for part in member.split("."):
        shape = shape.members[part]
        if shape.type_name == "list":
            shape = shape.member
    meta = shape.metadata
    return meta.get("min"), meta.get("max"), meta.get("pattern")


def prose(max_len, charset=None, pattern=None):
    return (None, max_len, charset, pattern)


# EC2 CreateSecurityGroup / AuthorizeSecurityGroup*: "Constraints: Up to 255 characters in
# length. Constraints for EC2-VPC: a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*"
EC2_TEXT = r"^[a-zA-Z0-9. _\-:/()#,@\[\]+=&;{}!$*]*$"

# (resource type, property path) -> how to check it. A path part "[]" walks a list.
CHECKS = {
    ("AWS::Events::Rule", "Name"): ("model", "events", "PutRule", "Name"),
    ("AWS::Events::Rule", "Description"): ("model", "events", "PutRule", "Description"),
    ("AWS::Events::Rule", "Targets.[].Id"): ("model", "events", "PutTargets", "Targets.Id"),
    ("AWS::Events::Rule", "Targets.[].SqsParameters.MessageGroupId"):
        ("model", "events", "PutTargets", "Targets.SqsParameters.MessageGroupId"),
    ("AWS::Lambda::Function", "Description"): ("model", "lambda", "CreateFunction", "Description"),
    # Lambda CreateFunction FunctionName: "The length constraint applies only to the full ARN.
    # If you specify only the function name, it is limited to 64 characters in length."
    ("AWS::Lambda::Function", "FunctionName"): ("prose", 64, r"^[a-zA-Z0-9_-]+$", "Lambda CreateFunction FunctionName"),
    ("AWS::Logs::LogGroup", "LogGroupName"): ("model", "logs", "CreateLogGroup", "logGroupName"),
    ("AWS::CloudWatch::Alarm", "AlarmName"): ("model", "cloudwatch", "PutMetricAlarm", "AlarmName"),
    ("AWS::CloudWatch::Alarm", "AlarmDescription"): ("model", "cloudwatch", "PutMetricAlarm", "AlarmDescription"),
    ("AWS::CloudWatch::Alarm", "Tags.[].Key"): ("model", "cloudwatch", "PutMetricAlarm", "Tags.Key"),
    ("AWS::CloudWatch::Alarm", "Tags.[].Value"): ("model", "cloudwatch", "PutMetricAlarm", "Tags.Value"),
    # CloudWatch PutDashboard DashboardName: "The maximum length is 255, and valid characters
    # are A-Z, a-z, 0-9, "-", and "_"."
    ("AWS::CloudWatch::Dashboard", "DashboardName"): ("prose", 255, r"^[a-zA-Z0-9_-]+$", "CloudWatch PutDashboard DashboardName"),
    # SQS CreateQueue QueueName: "A queue name can have up to 80 characters. Valid values:
    # alphanumeric characters, hyphens (-), and underscores (_). A FIFO queue name must end
    # with the .fifo suffix."
    ("AWS::SQS::Queue", "QueueName"): ("prose", 80, r"^[a-zA-Z0-9_-]+(\.fifo)?$", "SQS CreateQueue QueueName"),
    # SNS CreateTopic Name: "Topic names must be made up of only uppercase and lowercase ASCII
    # letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long."
    ("AWS::SNS::Topic", "TopicName"): ("prose", 256, r"^[a-zA-Z0-9_-]+$", "SNS CreateTopic Name"),
    # SNS topic DisplayName: "Maximum length is 100 characters" (used as the SMS sender).
    ("AWS::SNS::Topic", "DisplayName"): ("prose", 100, None, "SNS SetTopicAttributes DisplayName"),
    ("AWS::KMS::Alias", "AliasName"): ("model", "kms", "CreateAlias", "AliasName"),
    ("AWS::KMS::Key", "Description"): ("model", "kms", "CreateKey", "Description"),
    # ECS CreateCluster clusterName / CreateService serviceName / RegisterTaskDefinition family:
    # "Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens".
    ("AWS::ECS::Cluster", "ClusterName"): ("prose", 255, r"^[a-zA-Z0-9_-]+$", "ECS CreateCluster clusterName"),
    ("AWS::ECS::Service", "ServiceName"): ("prose", 255, r"^[a-zA-Z0-9_-]+$", "ECS CreateService serviceName"),
    ("AWS::ECS::TaskDefinition", "Family"): ("prose", 255, r"^[a-zA-Z0-9_-]+$", "ECS RegisterTaskDefinition family"),
    ("AWS::ECS::Cluster", "Tags.[].Key"): ("model", "ecs", "TagResource", "tags.key"),
    ("AWS::ECS::Cluster", "Tags.[].Value"): ("model", "ecs", "TagResource", "tags.value"),
    ("AWS::ECS::Service", "Tags.[].Value"): ("model", "ecs", "TagResource", "tags.value"),
    ("AWS::ECS::TaskDefinition", "Tags.[].Value"): ("model", "ecs", "TagResource", "tags.value"),
    ("AWS::ECR::Repository", "RepositoryName"): ("model", "ecr", "CreateRepository", "repositoryName"),
    ("AWS::ECR::Repository", "Tags.[].Value"): ("model", "ecr", "CreateRepository", "tags.Value"),
    ("AWS::EC2::SecurityGroup", "GroupDescription"): ("prose", 255, EC2_TEXT, "EC2 CreateSecurityGroup GroupDescription"),
    ("AWS::EC2::SecurityGroup", "SecurityGroupIngress.[].Description"): ("prose", 255, EC2_TEXT, "EC2 IpRange/UserIdGroupPair Description"),
    ("AWS::EC2::SecurityGroup", "SecurityGroupEgress.[].Description"): ("prose", 255, EC2_TEXT, "EC2 IpRange/UserIdGroupPair Description"),
    ("AWS::EC2::SecurityGroupEgress", "Description"): ("prose", 255, EC2_TEXT, "EC2 IpRange/UserIdGroupPair Description"),
    ("AWS::EC2::SecurityGroup", "Tags.[].Value"): ("model", "ec2", "CreateTags", "Tags.Value"),
    ("AWS::ApplicationAutoScaling::ScalingPolicy", "PolicyName"):
        ("model", "application-autoscaling", "PutScalingPolicy", "PolicyName"),
    ("AWS::Chatbot::SlackChannelConfiguration", "ConfigurationName"):
        ("model", "chatbot", "CreateSlackChannelConfiguration", "ConfigurationName"),
    ("AWS::IAM::Role", "Description"): ("model", "iam", "CreateRole", "Description"),
    ("AWS::IAM::Role", "RoleName"): ("model", "iam", "CreateRole", "RoleName"),
    ("AWS::IAM::Role", "Path"): ("model", "iam", "CreateRole", "Path"),
    ("AWS::Events::EventBus", "Name"): ("model", "events", "CreateEventBus", "Name"),
    ("AWS::Events::EventBus", "Description"): ("model", "events", "CreateEventBus", "Description"),
    ("AWS::IAM::ManagedPolicy", "Description"): ("model", "iam", "CreatePolicy", "Description"),
    ("AWS::Scheduler::Schedule", "Name"): ("model", "scheduler", "CreateSchedule", "Name"),
    ("AWS::Scheduler::Schedule", "Description"): ("model", "scheduler", "CreateSchedule", "Description"),
    ("AWS::Chatbot::CustomAction", "ActionName"): ("model", "chatbot", "CreateCustomAction", "ActionName"),
    ("AWS::Chatbot::CustomAction", "Attachments.[].ButtonText"):
        ("model", "chatbot", "CreateCustomAction", "Attachments.ButtonText"),
    # The API caps a custom action's command at 100 characters (CloudFormation at 5000).
    ("AWS::Chatbot::CustomAction", "Definition.CommandText"):
        ("model", "chatbot", "CreateCustomAction", "Definition.CommandText"),
    ("AWS::Lambda::Function", "Tags.[].Value"): ("model", "lambda", "TagResource", "Tags"),
}


def longest(pattern):
    """The longest value ^[a-z][a-z0-9-]{1,N}$ admits (the name parameters' form)."""
    m = re.fullmatch(r"\^\[a-z\]\[a-z0-9-\]\{1,(\d+)\}\$", pattern)
    if not m:
        raise SystemExit(f"limits.py: cannot find the longest value of {pattern}")
    return "z" + "9" * int(m.group(1))


def longest_of_class(pattern):
    """The longest value ^[...]{1,N}$ admits (SpokeRolePrefix's form), of its first character."""
    m = re.fullmatch(r"\^\[(.)[^\]]*\]\{1,(\d+)\}\$", pattern)
    if not m:
        raise SystemExit(f"limits.py: cannot find the longest value of {pattern}")
    return m.group(1) * int(m.group(2))


def spoke_parameters(t):
    p = {k: v.get("Default", "") for k, v in t["Parameters"].items()}
    p["SpokeRolePrefix"] = longest_of_class(t["Parameters"]["SpokeRolePrefix"]["AllowedPattern"])
    p["HubAccountId"] = "123456789012"
    # The hub's bus, named <ProjectName>-<Environment>-autopilot at their longest.
    p["HubEventBusArn"] = "arn:aws:events:ap-southeast-2:123456789012:event-bus/" + "z" * 24 + "-" + "z" * 16 + "-autopilot"
    p["OffHours"] = "true"
    return p


def parameters(t, scope):
    if scope == "spoke":
        return spoke_parameters(t)
    p = {k: v.get("Default", "") for k, v in t["Parameters"].items()}
    p["ProjectName"] = longest(t["Parameters"]["ProjectName"]["AllowedPattern"])
    p["Environment"] = longest(t["Parameters"]["Environment"]["AllowedPattern"])
    p.update({
        "Scope": scope,
        "VpcId": "vpc-0123456789abcdef0",
        "PrivateSubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "AlbSecurityGroupId": "sg-0123456789abcdef0",
        "DatabaseSecurityGroupId": "sg-0123456789abcdef1",
        "RedisSecurityGroupId": "sg-0123456789abcdef2",
        "TargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef",
        "EcsExecutionRoleArn": "arn:aws:iam::123456789012:role/execution",
        "EcsTaskRoleArn": "arn:aws:iam::123456789012:role/task",
        "NextAuthUrl": "https://app.example.com",
        "OffHoursOnHours": "Mon-Fri 07:00-19:00",
        "SlackWorkspaceId": "T0123456789",
        "SlackChannelId": "C0123456789",
        "NotificationEmail": "ops@example.com",
        "AlarmSnsTopicArn": "arn:aws:sns:us-east-1:123456789012:pager",
        "RedisSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:redis",
        # A gated strategy with every option, so its roles, hooks and buttons are checked too.
        "DeploymentStrategy": "LINEAR",
        "AlternateTargetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/0123456789abcdef",
        "ProductionListenerRuleArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/0123456789abcdef/0123456789abcdef/0123456789abcdef",
        "TestListenerRuleArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/0123456789abcdef/0123456789abcdef/fedcba9876543210",
        "ApprovalStage": "POST_TEST_TRAFFIC_SHIFT",
        "ChatApprovalButtons": "true",
        # As long as its MaxLength allows: the deploy-gate's environment must still fit.
        "GateAlarmNames": ",".join(["a" * 255] * 4)[: int(t["Parameters"]["GateAlarmNames"]["MaxLength"])],
        "OrganizationId": "o-" + "a" * 32,
        "SpokeRolePrefix": longest_of_class(t["Parameters"]["SpokeRolePrefix"]["AllowedPattern"]),
    })
    if scope == "organization":
        # The autopilot alone: the template's Rules refuse organization mode with the ECS stack.
        p["CreateEcsStack"] = "false"
    for k in ["DatabaseSecretArn", "NextAuthSecretArn", "AnthropicSecretArn", "GoogleOAuthSecretArn", "EncryptionKeySecretArn"]:
        p[k] = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{k}"
    return p


PSEUDO = {
    "AWS::Region": "ap-southeast-2", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
    "AWS::StackName": "s" * 128, "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None,
}


class Resolver:
    def __init__(self, t, params):
        self.t, self.p = t, params
        self.conditions = {}

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.t["Conditions"][name]))
        return self.conditions[name]

    def physical(self, logical):
        r = self.t["Resources"][logical]
        props = r.get("Properties", {})
        for key in ("ClusterName", "ServiceName", "RepositoryName", "QueueName", "TopicName", "FunctionName", "LogGroupName", "Name"):
            if key in props:
                return self.value(props[key])
        return f"{logical}-GENERATEDID0123456789"

    def value(self, v):
        if isinstance(v, list):
            return [x for x in (self.value(i) for i in v) if x is not None]
        if not isinstance(v, dict):
            return v
        if len(v) != 1:
            return {k: x for k, x in ((k, self.value(i)) for k, i in v.items()) if x is not None}
        (f, a), = v.items()
        if f == "Ref":
            if a in PSEUDO:
                return PSEUDO[a]
            if a in self.p:
                return self.p[a]
            return self.physical(a)
        if f == "Condition":
            return self.condition(a)
        if f == "Fn::If":
            return self.value(a[1] if self.condition(a[0]) else a[2])
        if f == "Fn::Equals":
            return str(self.value(a[0])) == str(self.value(a[1]))
        if f == "Fn::Not":
            return not self.value(a[0])
        if f == "Fn::And":
            return all(self.value(x) for x in a)
        if f == "Fn::Or":
            return any(self.value(x) for x in a)
        if f == "Fn::GetAtt":
            logical, attr = a if isinstance(a, list) else a.split(".", 1)
            return self.getatt(logical, attr)
        if f == "Fn::Join":
            return a[0].join(str(x) for x in self.value(a[1]))
        if f == "Fn::Split":
            return str(self.value(a[1])).split(a[0])
        if f == "Fn::Select":
            return self.value(a[1])[int(a[0])]
        if f == "Fn::Sub":
            text, extra = (a, {}) if isinstance(a, str) else (a[0], a[1])
            extra = {k: self.value(x) for k, x in extra.items()}

            def sub(m):
                name = m.group(1)
                if name in extra:
                    return str(extra[name])
                if "." in name:
                    logical, attr = name.split(".", 1)
                    return str(self.getatt(logical, attr))
                return str(self.value({"Ref": name}))

            return re.sub(r"\$\{([^}!]+)\}", sub, text)
        return {f: self.value(a)}

    def getatt(self, logical, attr):
        if attr == "Name":
            return self.physical(logical)
        if attr == "RepositoryUri":
            return f"123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/{self.physical(logical)}"
        if attr == "QueueName":
            return self.physical(logical)
        return f"arn:aws:generated:ap-southeast-2:123456789012:{logical}/{attr}"


def walk(value, path):
    if not path:
        yield value
        return
    head, rest = path[0], path[1:]
    if head == "[]":
        for item in value if isinstance(value, list) else []:
            yield from walk(item, rest)
    elif isinstance(value, dict) and head in value:
        yield from walk(value[head], rest)


# Java's Unicode classes in the models' patterns, for the ASCII values the stack writes.
UNICODE_CLASSES = {"Print": r"\x20-\x7E", "L": "a-zA-Z", "Z": " ", "N": "0-9"}


def ascii_classes(pattern):
    out, in_class, i = [], False, 0
    while i < len(pattern):
        m = re.match(r"\\p\{(\w+)\}", pattern[i:])
        if m:
            body = UNICODE_CLASSES[m.group(1)]
            out.append(body if in_class else f"[{body}]")
            i += m.end()
            continue
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[":
            in_class = True
        elif c == "]":
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def check(value, how):
    if how[0] == "model":
        _, service, operation, member = how
        lo, hi, pattern = shape_rule(service, operation, member)
        rule = f"{service} {operation} {member}: min {lo}, max {hi}, pattern {pattern}"
        if pattern:
            pattern = ascii_classes(pattern)
            pattern = pattern.replace(r"\u0009", r"\x09").replace(r"\u000A", r"\x0A").replace(r"\u000D", r"\x0D")
            pattern = re.sub(r"\\u([0-9A-Fa-f]{4})", lambda m: "\\x{%s}" % m.group(1), pattern)
            pattern = re.sub(r"\\x\{([0-9A-Fa-f]{4})\}", lambda m: chr(int(m.group(1), 16)), pattern)
    else:
        _, hi, pattern, doc = how
        lo, rule = 1, f"{doc}: max {hi}, pattern {pattern}"
    ok = (lo is None or len(value) >= lo) and (hi is None or len(value) <= hi)
    if ok and pattern:
        p = pattern if pattern.startswith("^") else f"^(?:{pattern})$"
        ok = re.match(p, value) is not None
    return ok, rule


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    t = json.load(open(sys.argv[1], encoding="utf-8"))
    scope = sys.argv[2] if len(sys.argv) == 3 else "stack"
    r = Resolver(t, parameters(t, scope))
    checked, violations = 0, []
    for logical, res in t["Resources"].items():
        if "Condition" in res and not r.condition(res["Condition"]):
            continue
        props = r.value(res.get("Properties", {}))
        for (rtype, path), how in CHECKS.items():
            if res["Type"] != rtype:
                continue
            for value in walk(props, path.split(".")):
                if isinstance(value, list):  # Lambda's Tags are a map in CloudFormation
                    continue
                if isinstance(value, dict):
                    items = list(value.values())
                else:
                    items = [value]
                for v in items:
                    checked += 1
                    ok, rule = check(str(v), how)
                    if not ok:
                        violations.append({"resource": logical, "property": path, "value": str(v),
                                           "length": len(str(v)), "rule": rule})
        # Lambda: "The total size of all environment variables doesn't exceed 4 KB" (keys and
        # values, as the Lambda developer guide's quotas page counts them).
        if res["Type"] == "AWS::Lambda::Function":
            env = props.get("Environment", {}).get("Variables", {})
            size = sum(len(k) + len(str(v)) for k, v in env.items())
            checked += 1
            if size > 4096:
                violations.append({"resource": logical, "property": "Environment.Variables",
                                   "value": f"{size} bytes", "length": size,
                                   "rule": "Lambda quotas: environment variables, 4 KB in all"})
    print(json.dumps({"checked": checked, "violations": violations}, indent=1))


if __name__ == "__main__":
    main()
