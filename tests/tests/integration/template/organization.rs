//! Organization mode: the hub (`sam/template.yaml` with `Scope=organization`) and the spoke
//! (`sam/spoke.yaml`), linted, deployed into two accounts of the emulator, an event routed from
//! the spoke's default bus to the hub's queues, and the policies the emulator does not enforce
//! (the bus policy, the spoke roles' trust) read from the templates themselves.

use super::docs::limits;
use super::*;
use integration_tests::iam::{arn_matches, in_scope};
use integration_tests::template::{create_stack_as, spoke, spoke_path};

const ORGANIZATION: &str = "o-a1b2c3d4e5";
pub(crate) const MEMBER: &str = "210987654321";

/// The four functions that act in member accounts: (binary, hub logical id, spoke role id).
const ACTING: [(&str, &str, &str); 4] = [
    ("deployer", "DeployerFunction", "DeployerRole"),
    ("task-watcher", "TaskWatcherFunction", "TaskWatcherRole"),
    (
        "alarm-notifier",
        "AlarmNotifierFunction",
        "AlarmNotifierRole",
    ),
    ("off-hours", "OffHoursFunction", "OffHoursRole"),
];

/// What stays in the hub, with the hub's own role: the chat topic, the key, the queues, the
/// deployer's pause reminders, the Price List (its prices are no account's) (by the Sids the
/// template gives them).
const HUB_SIDE: [&str; 6] = [
    "FargatePricesForTheSavingsEstimate",
    "PublishToChat",
    "EncryptedTopicAndDeadLetterQueue",
    "ReadItsQueue",
    "ScheduleAPausesReminder",
    "PassTheReminderRoleToScheduler",
];

/// `Fn::Sub` text with the pseudo parameters and these parameters put in.
fn sub(v: &Value, params: &[(&str, &str)]) -> String {
    let mut text = v["Fn::Sub"]
        .as_str()
        .unwrap_or_else(|| panic!("not an Fn::Sub: {v}"))
        .to_string();
    for (k, value) in [
        ("AWS::Partition", "aws"),
        ("AWS::Region", REGION),
        ("AWS::AccountId", ACCOUNT),
    ]
    .iter()
    .chain(params)
    {
        text = text.replace(&format!("${{{k}}}"), value);
    }
    assert!(!text.contains("${"), "unresolved: {text}");
    text
}

pub(crate) fn hub_parameters() -> Vec<(String, String)> {
    [
        ("ProjectName", template::PROJECT),
        ("Environment", template::ENVIRONMENT),
        ("Scope", "organization"),
        ("CreateEcsStack", "false"),
        ("OrganizationId", ORGANIZATION),
        OFF_HOURS,
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn cfn_lint_and_checkov_find_nothing_in_the_spoke_and_every_skip_says_why() {
    let (ok, output) = run(Command::new(tool(".venv-sam", "cfn-lint")).arg(spoke_path()));
    assert!(ok && output.trim().is_empty(), "cfn-lint:\n{output}");
    let (_, output) = run(Command::new(tool(".venv-checkov", "checkov"))
        .args([
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--skip-download",
            "--quiet",
            "--compact",
        ])
        .arg("-f")
        .arg(spoke_path()));
    let start = output.find(['{', '[']).unwrap_or(0);
    let report: Value = serde_json::from_str(&output[start..])
        .unwrap_or_else(|e| panic!("checkov did not print a JSON report ({e}):\n{output}"));
    let results = &report["results"];
    assert_eq!(report["summary"]["failed"], 0, "{}", report["summary"]);
    for skipped in results["skipped_checks"].as_array().into_iter().flatten() {
        let reason = skipped["check_result"]["suppress_comment"]
            .as_str()
            .unwrap_or("");
        assert!(
            reason.len() > 20,
            "checkov skip {} gives no reason",
            skipped["check_id"]
        );
    }
    assert!(
        report["summary"]["passed"].as_u64() > Some(30),
        "checkov ran only {}",
        report["summary"]
    );
}

#[test]
fn organization_mode_needs_its_organization_and_installs_the_autopilot_alone() {
    let t = translate();
    let params = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        let mut p: BTreeMap<String, String> = BTreeMap::new();
        for (k, d) in t["Parameters"].as_object().expect("Parameters") {
            if let Some(d) = d.get("Default") {
                p.insert(k.clone(), d.as_str().map_or(d.to_string(), str::to_string));
            }
        }
        for (k, v) in pairs {
            p.insert(k.to_string(), v.to_string());
        }
        p
    };
    let org = [
        ("Scope", "organization"),
        ("CreateEcsStack", "false"),
        ("OrganizationId", ORGANIZATION),
    ];
    assert_eq!(refused(&t, &params(&org)), Vec::<String>::new());
    let mut without_id = org;
    without_id[2] = ("OrganizationId", "");
    assert_eq!(
        refused(&t, &params(&without_id)),
        ["the template's Rules refuse the set"]
    );
    // The Organizations API's pattern: o- and 10 to 32 lower-case letters or digits.
    for bad in ["o-ABCDEFGHIJ", "o-abc", "123456789012"] {
        let mut p = org;
        p[2] = ("OrganizationId", bad);
        assert!(!refused(&t, &params(&p)).is_empty(), "{bad}");
    }
    // With the ECS stack (all its inputs given): refused, the hub account uses a spoke.
    let mut with_stack: Vec<(&str, String)> = ecs_inputs().into_iter().collect();
    with_stack.extend(org.iter().map(|(k, v)| (*k, v.to_string())));
    with_stack.retain(|(k, _)| *k != "CreateEcsStack");
    let pairs: Vec<(&str, &str)> = with_stack.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        refused(&t, &params(&pairs)),
        ["the template's Rules refuse the set"]
    );
    // The prefix: IAM's role-name characters, 49 at most so <prefix>-alarm-notifier fits 64.
    let longest = "p".repeat(49);
    assert_eq!(format!("{longest}-alarm-notifier").len(), 64);
    for (prefix, ok) in [
        (longest.as_str(), true),
        (&"p".repeat(50), false),
        ("team+ops@x.y_z=1,2", true),
        ("no/slash", false),
        ("no space", false),
    ] {
        let mut p = org.to_vec();
        p.push(("SpokeRolePrefix", prefix));
        assert_eq!(refused(&t, &params(&p)).is_empty(), ok, "{prefix}");
    }
    // The spoke takes the same prefixes, with the same default.
    for key in ["AllowedPattern", "Default"] {
        assert_eq!(
            spoke()["Parameters"]["SpokeRolePrefix"][key],
            t["Parameters"]["SpokeRolePrefix"][key]
        );
    }
}

/// The hub's bus admits the organization's accounts and nothing else; each spoke role trusts its
/// own function's role in the hub and nothing else; each holds exactly what its function holds
/// in fleet mode, but what stays in the hub, plus the account's alias. The emulator enforces
/// neither bus policies nor role trust: this reads them.
#[test]
fn the_bus_admits_the_organization_and_each_spoke_role_trusts_its_own_hub_function_only() {
    let t = translate();
    let s = spoke();
    let bus = &resources(&t)["CentralEventBus"];
    assert_eq!(bus["Condition"], "OrganizationScope");
    let policy = &bus["Properties"]["Policy"];
    let statements = policy["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 1, "{policy}");
    let st = &statements[0];
    assert_eq!(st["Effect"], "Allow");
    assert_eq!(st["Principal"], "*");
    assert_eq!(st["Action"], "events:PutEvents");
    assert_eq!(
        st["Condition"],
        json!({"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}})
    );
    let bus_name = sub(
        &bus["Properties"]["Name"],
        &[("ProjectName", "autopilot"), ("Environment", "demo")],
    );
    assert_eq!(
        sub(
            &st["Resource"],
            &[("ProjectName", "autopilot"), ("Environment", "demo")]
        ),
        format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus_name}")
    );

    let prefix = [
        ("SpokeRolePrefix", "fargate-autopilot"),
        ("HubAccountId", ACCOUNT),
    ];
    for (binary, function, spoke_role) in ACTING {
        // The hub function's role: its path, in organization mode only.
        let hub_role = &resources(&t)[&format!("{function}Role")]["Properties"];
        let path = in_scope(&hub_role["Path"], "organization").expect("a path");
        assert!(
            in_scope(&hub_role["Path"], "account").is_none(),
            "{function}"
        );
        let path = sub(&path, &prefix);
        assert_eq!(path, format!("/fargate-autopilot/{binary}/"));
        // CloudFormation names the role <stack>-<logical id>-<random>.
        let hub_role_arn =
            format!("arn:aws:iam::{ACCOUNT}:role{path}autopilot-demo-{function}Role-AbCdEf123456");

        let role = &s["Resources"][spoke_role]["Properties"];
        assert_eq!(
            sub(&role["RoleName"], &prefix),
            format!("fargate-autopilot-{binary}")
        );
        let trust = role["AssumeRolePolicyDocument"]["Statement"]
            .as_array()
            .expect("trust");
        assert_eq!(trust.len(), 1, "{spoke_role}");
        let trust = &trust[0];
        assert_eq!(trust["Effect"], "Allow");
        assert_eq!(trust["Action"], "sts:AssumeRole");
        assert_eq!(
            sub(&trust["Principal"]["AWS"], &prefix),
            format!("arn:aws:iam::{ACCOUNT}:root"),
            "{spoke_role}: the hub account"
        );
        let conditions = trust["Condition"].as_object().expect("a condition");
        assert_eq!(conditions.len(), 1, "{spoke_role}: {conditions:?}");
        let principal = sub(&trust["Condition"]["ArnLike"]["aws:PrincipalArn"], &prefix);
        assert!(
            arn_matches(&principal, &hub_role_arn),
            "{principal} ~ {hub_role_arn}"
        );
        for (other, other_function, _) in ACTING {
            if other != binary {
                let other_arn = format!(
                    "arn:aws:iam::{ACCOUNT}:role/fargate-autopilot/{other}/autopilot-demo-{other_function}Role-AbCdEf123456"
                );
                assert!(
                    !arn_matches(&principal, &other_arn),
                    "{spoke_role} trusts {other}"
                );
            }
        }
        for stranger in [
            format!("arn:aws:iam::{ACCOUNT}:role/autopilot-demo-{function}Role-AbCdEf123456"),
            format!("arn:aws:iam::{MEMBER}:role/fargate-autopilot/{binary}/x"),
        ] {
            assert!(
                !arn_matches(&principal, &stranger),
                "{spoke_role} trusts {stranger}"
            );
        }

        // The hub function assumes exactly that role, in any account, and says so to its code.
        let hub = role_statements_in(&t, function, "organization");
        let assume: Vec<&Value> = hub
            .iter()
            .filter(|st| actions(st).contains(&"sts:AssumeRole".to_string()))
            .collect();
        assert_eq!(assume.len(), 1, "{function}");
        assert_eq!(
            sub(&assume[0]["Resource"], &prefix),
            format!("arn:aws:iam::*:role/fargate-autopilot-{binary}")
        );
        let env = &resources(&t)[function]["Properties"]["Environment"]["Variables"];
        let spoke_role_arn = in_scope(&env["SPOKE_ROLE_ARN"], "organization").expect("set");
        assert_eq!(
            sub(&spoke_role_arn, &prefix),
            format!("arn:aws:iam::{{account}}:role/fargate-autopilot-{binary}")
        );
        assert!(in_scope(&env["SPOKE_ROLE_ARN"], "account").is_none());
        // In the hub: only what stays there, sts, and the price list (account-independent).
        for st in &hub {
            for a in actions(st) {
                assert!(
                    [
                        "sns:",
                        "kms:",
                        "sqs:",
                        "scheduler:",
                        "iam:PassRole",
                        "sts:AssumeRole",
                        "pricing:"
                    ]
                    .iter()
                    .any(|p| a.starts_with(p)),
                    "{function} keeps {a} in the hub in organization mode"
                );
            }
        }

        // The spoke role: fleet mode's statements (in the spoke's own account), less the hub's.
        // SAM's own statement (no Sid) sends failed events to the hub's dead-letter queue.
        let fleet: Vec<Value> = role_statements_in(&t, function, "account")
            .into_iter()
            .filter(|st| match st["Sid"].as_str() {
                Some(sid) => !HUB_SIDE.contains(&sid),
                None => {
                    assert_eq!(st["Action"], "sqs:SendMessage", "{function}: {st}");
                    false
                }
            })
            .collect();
        let policies = role["Policies"].as_array().expect("policies");
        assert_eq!(policies.len(), 1, "{spoke_role}");
        let mut mine: Vec<Value> = policies[0]["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements")
            .clone();
        let alias = mine.pop().expect("the alias statement");
        assert_eq!(
            alias,
            json!({"Sid": "TheAccountsAliasForChat", "Effect": "Allow",
                   "Action": "iam:ListAccountAliases", "Resource": "*"})
        );
        assert_eq!(mine, fleet, "{spoke_role}");
    }

    // The forwarding role: EventBridge, for this account's rules, onto the hub's bus only.
    let forwarding = &s["Resources"]["ForwardingRole"]["Properties"];
    let trust = &forwarding["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(
        trust["Principal"],
        json!({"Service": "events.amazonaws.com"})
    );
    assert_eq!(
        trust["Condition"]["StringEquals"]["aws:SourceAccount"],
        json!({"Ref": "AWS::AccountId"})
    );
    let allowed = &forwarding["Policies"][0]["PolicyDocument"]["Statement"];
    assert_eq!(
        allowed,
        &json!([{"Sid": "TheHubsBusOnly", "Effect": "Allow", "Action": "events:PutEvents",
                  "Resource": {"Ref": "HubEventBusArn"}}])
    );
}

/// The spoke forwards what fleet mode's rules match, each with the forwarding role; the hub's
/// rules sit on the central bus in organization mode, and the queue policies admit them
/// (`rule/<bus>/<rule>` on a custom bus).
#[test]
fn the_spoke_forwards_what_fleet_modes_rules_match_and_the_hubs_queues_admit_the_bus_rules() {
    let t = translate();
    let s = spoke();
    let r = resources(&t);
    for (hub_rule, spoke_rule) in [
        ("ImagePushedRule", "ImagePushedRule"),
        ("DeploymentStateRule", "DeploymentStateRule"),
        ("HookStateRule", "HookStateRule"),
        ("TaskStoppedRule", "TaskStoppedRule"),
        ("AlarmNotifierFunctionAlarmStateChanged", "AlarmStateRule"),
    ] {
        let hub = &r[hub_rule]["Properties"];
        let forwarded = &s["Resources"][spoke_rule]["Properties"];
        assert_eq!(
            in_scope(&hub["EventPattern"], "account"),
            Some(forwarded["EventPattern"].clone()),
            "{spoke_rule}"
        );
        assert_eq!(
            in_scope(&hub["EventBusName"], "organization"),
            Some(json!({"Fn::GetAtt": ["CentralEventBus", "Name"]})),
            "{hub_rule}"
        );
        assert!(
            in_scope(&hub["EventBusName"], "account").is_none(),
            "{hub_rule}"
        );
        let targets = forwarded["Targets"].as_array().expect("targets");
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0]["Arn"], json!({"Ref": "HubEventBusArn"}));
        assert_eq!(
            targets[0]["RoleArn"],
            json!({"Fn::GetAtt": ["ForwardingRole", "Arn"]}),
            "{spoke_rule}: a cross-account bus target granted by organization needs a role"
        );
    }
    // The tick: only with OffHours, every quarter hour; in the hub, not the hub's own schedule
    // but a rule on the bus for the forwarded ticks, to a standard queue.
    let tick = &s["Resources"]["OffHoursTickRule"];
    assert_eq!(tick["Condition"], "OffHoursOn");
    assert_eq!(
        tick["Properties"]["ScheduleExpression"],
        "cron(0/15 * * * ? *)"
    );
    assert_eq!(r["OffHoursTickRule"]["Condition"], "OffHoursHubTicks");
    let ticks = &r["OffHoursAccountTicksRule"];
    assert_eq!(ticks["Condition"], "OffHoursSpokeTicks");
    assert_eq!(
        ticks["Properties"]["EventPattern"],
        json!({"source": ["aws.events"], "detail-type": ["Scheduled Event"]})
    );
    let queue = &r["OffHoursAccountsQueue"]["Properties"];
    assert!(
        queue.get("FifoQueue").is_none(),
        "a FIFO queue serialises the accounts"
    );
    let mapping = &r["OffHoursAccountsQueueMapping"]["Properties"];
    assert_eq!(mapping["BatchSize"], 1, "one account an invocation");
    assert!(mapping["ScalingConfig"]["MaximumConcurrency"].as_u64() >= Some(2));

    // The queue policies' SourceArn matches the rules on the central bus.
    let names = [("ProjectName", "autopilot"), ("Environment", "demo")];
    for policy in ["OrderedQueuesPolicy", "EventsDeadLetterQueuePolicy"] {
        let condition = &r[policy]["Properties"]["PolicyDocument"]["Statement"][0]["Condition"];
        let source = |scope| {
            sub(
                &in_scope(&condition["ArnLike"]["aws:SourceArn"], scope).expect("SourceArn"),
                &names,
            )
        };
        for rule in ["push", "stops", "spoke-ticks"] {
            let on_bus = format!(
                "arn:aws:events:{REGION}:{ACCOUNT}:rule/autopilot-demo-autopilot/autopilot-demo-autopilot-{rule}"
            );
            assert!(
                arn_matches(&source("organization"), &on_bus),
                "{policy}: {on_bus}"
            );
            let on_default =
                format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/autopilot-demo-autopilot-{rule}");
            assert!(arn_matches(&source("account"), &on_default), "{policy}");
            assert!(
                !arn_matches(&source("organization"), &on_default),
                "{policy}"
            );
        }
    }
}

/// The hub deployed with Scope=organization, the spoke deployed in a second account of the
/// emulator from the hub's own output, and events put on the spoke account's default bus
/// reaching the hub's queues through both templates' rules.
///
/// moto forwards an event to another account's bus as a new PutEvents of its source,
/// detail-type and detail only: the forwarded event's `account` becomes the hub's (AWS keeps
/// the spoke's, which the functions rely on), its `resources` are dropped and its `time` is
/// new; moto applies neither the bus policy nor the target's RoleArn. Those are checked in the
/// templates above.
#[tokio::test]
async fn the_hub_and_a_spoke_in_another_account_deploy_and_the_spokes_events_reach_the_hub() {
    let emu = template::emulator();
    let t = translate();
    let outputs = template::create_stack(&emu, &t, template::STACK_NAME, &hub_parameters());
    pollers_off(&emu);
    assert_eq!(outputs["Scope"], "organization");
    let bus_arn = format!("arn:aws:events:{REGION}:{ACCOUNT}:event-bus/autopilot-demo-autopilot");
    assert_eq!(outputs["EventBusArn"], bus_arn);
    assert!(!outputs.contains_key("ClusterName"), "{outputs:?}");

    // The functions: fleet mode's variables and the role they act through; each function reads
    // every variable it is given, and starts with them.
    for (binary, _) in template::FUNCTIONS {
        let env = DeployedStack::function_env(&emu, binary);
        let read = super::environment::read_config(binary, &env)
            .unwrap_or_else(|e| panic!("{binary} does not start in organization scope: {e}"));
        for var in env.keys() {
            assert!(read.contains(var.as_str()), "{binary} never reads {var}");
        }
    }
    for (binary, _, _) in ACTING {
        let env = DeployedStack::function_env(&emu, binary);
        let hub_bus = env.get("HUB_BUS_ARN").map(String::as_str);
        assert_eq!(hub_bus, Some(bus_arn.as_str()), "{binary}");
        assert_eq!(
            env.get("SPOKE_ROLE_ARN").map(String::as_str),
            Some(format!("arn:aws:iam::{{account}}:role/fargate-autopilot-{binary}").as_str()),
            "{binary}"
        );
    }
    let deployer = DeployedStack::function_env(&emu, "deployer");
    assert_eq!(deployer.get("FLEET").map(String::as_str), Some("true"));
    let off = DeployedStack::function_env(&emu, "off-hours");
    assert_eq!(
        off.get("SELECT_TAG").map(String::as_str),
        Some("autopilot:off-hours=enabled")
    );
    assert!(!off.contains_key("CLUSTERS"), "{off:?}");
    assert!(!DeployedStack::function_env(&emu, "task-watcher").contains_key("RESTART_NETWORK"));

    // The rules are on the central bus; the default bus has none of them (no hub schedule).
    let on_default = emu.json(
        "events",
        "AWSEvents.ListRules",
        &json!({"NamePrefix": "autopilot-demo-autopilot-"}),
    );
    assert_eq!(on_default["Rules"], json!([]), "{on_default}");
    let on_bus = emu.json(
        "events",
        "AWSEvents.ListRules",
        &json!({"NamePrefix": "autopilot-demo-autopilot-", "EventBusName": "autopilot-demo-autopilot"}),
    );
    let names: BTreeSet<&str> = on_bus["Rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["Name"].as_str())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "autopilot-demo-autopilot-spoke-ticks",
            "autopilot-demo-autopilot-alarms",
            "autopilot-demo-autopilot-deploys",
            "autopilot-demo-autopilot-pauses",
            "autopilot-demo-autopilot-push",
            "autopilot-demo-autopilot-stops",
        ])
    );

    // The spoke, in the member account, with the hub's ready-to-paste parameters.
    let member = emu.account_key(MEMBER);
    let spoke_parameters: Vec<(String, String)> = outputs["SpokeParameterOverrides"]
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("Key=Value");
            (k.to_string(), v.to_string())
        })
        .collect();
    assert_eq!(
        spoke_parameters,
        [
            ("HubAccountId".to_string(), ACCOUNT.to_string()),
            ("HubEventBusArn".into(), bus_arn.clone()),
            ("SpokeRolePrefix".into(), "fargate-autopilot".into()),
            ("OffHours".into(), "true".into()),
        ]
    );
    let stackset_form: Vec<String> = spoke_parameters
        .iter()
        .map(|(k, v)| format!("ParameterKey={k},ParameterValue={v}"))
        .collect();
    assert_eq!(outputs["SpokeStackSetParameters"], stackset_form.join(" "));
    let spoke_outputs = create_stack_as(
        &emu,
        &member,
        &spoke(),
        "fargate-autopilot-spoke",
        &spoke_parameters,
        "CAPABILITY_NAMED_IAM",
    );
    for (binary, _, role) in ACTING {
        assert_eq!(
            spoke_outputs[&format!("{role}Arn")],
            format!("arn:aws:iam::{MEMBER}:role/fargate-autopilot-{binary}")
        );
    }
    // Its rules are the member account's, on its default bus, each to the hub's bus.
    let rules = emu.json_as(&member, "events", "AWSEvents.ListRules", &json!({}));
    let rules = rules["Rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 6, "{rules:?}");
    for rule in rules {
        assert!(rule["Arn"]
            .as_str()
            .is_some_and(|a| a.contains(&format!(":{MEMBER}:rule/"))));
        let targets = emu.json_as(
            &member,
            "events",
            "AWSEvents.ListTargetsByRule",
            &json!({"Rule": rule["Name"]}),
        );
        assert_eq!(targets["Targets"][0]["Arn"], bus_arn.as_str(), "{rule}");
        assert!(
            targets["Targets"][0]["RoleArn"].as_str().is_some(),
            "{rule}"
        );
    }
    let tick_rule = rules
        .iter()
        .find(|r| r["ScheduleExpression"] == "cron(0/15 * * * ? *)")
        .expect("the member account's tick");
    // moto matches a rule without a pattern (a schedule) against every event put on its bus,
    // which AWS does not: the tick rule would forward the push below a second time.
    let tick_rule = tick_rule["Name"].clone();
    emu.json_as(
        &member,
        "events",
        "AWSEvents.RemoveTargets",
        &json!({"Rule": tick_rule, "Ids": ["hub"]}),
    );
    emu.json_as(
        &member,
        "events",
        "AWSEvents.DeleteRule",
        &json!({"Name": tick_rule}),
    );

    // A push and a stopped task in the member account reach the hub's FIFO queues, through the
    // spoke's rule, the bus and the hub's rule.
    let sqs = aws_sdk_sqs::Client::new(&emu.sdk_config());
    let queue = |name: &str| {
        let sqs = sqs.clone();
        let name = name.to_string();
        async move {
            sqs.get_queue_url()
                .queue_name(name)
                .send()
                .await
                .expect("the hub's queue")
                .queue_url
                .expect("URL")
        }
    };
    let mut push = sample_event("deployer/ecr-push-release-tag.json");
    push["account"] = json!(MEMBER);
    let mut stop = sample_event("task-watcher/out-of-memory.json");
    stop["account"] = json!(MEMBER);
    let mut running = stop.clone();
    running["detail"]["lastStatus"] = json!("RUNNING");
    running["detail"]
        .as_object_mut()
        .map(|d| d.remove("stopCode"));
    for (event, queue_name, expected) in [
        (&push, "autopilot-demo-autopilot-deployer.fifo", true),
        (&stop, "autopilot-demo-autopilot-task-watcher.fifo", true),
        (
            &running,
            "autopilot-demo-autopilot-task-watcher.fifo",
            false,
        ),
    ] {
        let put = emu.json_as(
            &member,
            "events",
            "AWSEvents.PutEvents",
            &json!({"Entries": [{"Source": event["source"], "DetailType": event["detail-type"],
                    "Detail": event["detail"].to_string(), "Resources": event["resources"]}]}),
        );
        assert_eq!(put["FailedEntryCount"], 0, "{put}");
        let url = queue(queue_name).await;
        let got = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(if expected { 2 } else { 0 })
            .send()
            .await
            .expect("ReceiveMessage")
            .messages
            .unwrap_or_default();
        assert_eq!(got.len(), usize::from(expected), "{queue_name}: {got:?}");
        for m in &got {
            let body: Value = serde_json::from_str(m.body().unwrap_or_default()).expect("JSON");
            assert_eq!(body["detail"], event["detail"]);
            assert_eq!(body["source"], event["source"]);
            sqs.delete_message()
                .queue_url(&url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("DeleteMessage");
        }
    }

    // A member account's tick reaches the standard queue of the accounts' ticks, one message
    // per tick. The emulator runs no schedules: a rule of the member account with the tick
    // rule's target, matching the scheduled event, forwards it as the schedule would.
    let targets = emu.json_as(
        &member,
        "events",
        "AWSEvents.ListTargetsByRule",
        &json!({"Rule": rules.iter().find(|r| r["Name"] != tick_rule).expect("a rule")["Name"]}),
    );
    emu.json_as(
        &member,
        "events",
        "AWSEvents.PutRule",
        &json!({"Name": "tick-as-scheduled", "EventPattern": r#"{"detail-type": ["Scheduled Event"]}"#}),
    );
    emu.json_as(
        &member,
        "events",
        "AWSEvents.PutTargets",
        &json!({"Rule": "tick-as-scheduled", "Targets": targets["Targets"]}),
    );
    let tick = sample_event("off-hours/scheduled-event.json");
    let put = emu.json_as(
        &member,
        "events",
        "AWSEvents.PutEvents",
        &json!({"Entries": [{"Source": tick["source"], "DetailType": tick["detail-type"],
                "Detail": tick["detail"].to_string()}]}),
    );
    assert_eq!(put["FailedEntryCount"], 0, "{put}");
    let url = queue("autopilot-demo-autopilot-off-hours-accounts").await;
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .wait_time_seconds(2)
        .send()
        .await
        .expect("ReceiveMessage")
        .messages
        .unwrap_or_default();
    assert_eq!(got.len(), 1, "{got:?}");
    let body: Value = serde_json::from_str(got[0].body().unwrap_or_default()).expect("JSON");
    assert_eq!(body["detail-type"], "Scheduled Event");

    // The release off-hours, with the hub's environment, handles that tick as AWS delivers it
    // (the member's account kept), through the member's role: in organization mode from its
    // environment alone. The member account has no service that opted in: nothing to do.
    let mut as_aws_sends_it = body.clone();
    as_aws_sends_it["account"] = json!(MEMBER);
    let mut env: Vec<(String, String)> = DeployedStack::function_env(&emu, "off-hours")
        .into_iter()
        .collect();
    env.extend(emu.env());
    let run = run_function(
        &release_binary("off-hours"),
        &function_name("off-hours"),
        &env,
        vec![as_aws_sends_it],
        Duration::from_secs(60),
    );
    assert!(
        run.init_error.is_none(),
        "{:?}\n{}",
        run.init_error,
        run.output
    );
    let answer = run
        .invocations
        .first()
        .and_then(|i| i.ok())
        .unwrap_or_else(|| panic!("{:?}\n{}", run.invocations, run.output));
    assert_eq!(answer["account"]["id"], MEMBER, "{answer}");
    assert_eq!(answer["result"]["services"], json!([]), "{answer}");
}

#[test]
fn every_name_of_the_hub_in_organization_mode_and_of_the_spoke_fits_awss_limits() {
    let checked = limits(&translate(), "organization");
    assert_eq!(checked["violations"], json!([]));
    assert!(checked["checked"].as_u64() > Some(90), "{checked}");
    let checked = limits(&spoke(), "spoke");
    assert_eq!(checked["violations"], json!([]));
    // The four role names and paths, the rules' descriptions and targets, the roles' texts.
    assert!(checked["checked"].as_u64() > Some(15), "{checked}");
    // It sees a role name one character too long.
    let mut bad = spoke();
    bad["Resources"]["AlarmNotifierRole"]["Properties"]["RoleName"] =
        json!({"Fn::Sub": "${SpokeRolePrefix}-alarm-notifiers"});
    let found = limits(&bad, "spoke");
    assert_eq!(
        found["violations"][0]["resource"], "AlarmNotifierRole",
        "{found}"
    );
    assert_eq!(found["violations"][0]["length"], 65, "{found}");
}

/// The README's "Organization mode" `sh` blocks: the hub, the StackSet, a spoke by hand.
fn readme_organization_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(integration_tests::workspace_root().join("README.md"))
        .expect("README.md");
    let section = readme
        .split("## Organization mode")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the README's Organization mode section")
        .to_string();
    let blocks: Vec<String> = section
        .split("```sh")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .map(str::to_string)
        .collect();
    assert_eq!(blocks.len(), 3, "hub, StackSet, spoke by hand");
    blocks
}

/// The hub's install in the README's "Organization mode", resolved by the SAM CLI's own code and
/// accepted by the template; the StackSet's flags as the AWS CLI reference gives them.
#[test]
fn the_readmes_organization_install_runs_as_written() {
    let blocks = readme_organization_blocks();
    let sent = super::translated::sam_deploy_accepted(&blocks[0]);
    assert_eq!(sent["Scope"], "organization");
    assert_eq!(sent["OffHoursOnHours"], "Mon-Fri 07:00-19:00", "{sent:?}");
    let stackset = shell_words(&blocks[1]).join(" ");
    for flag in [
        "create-stack-set",
        "--permission-model SERVICE_MANAGED",
        "--auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false",
        "--capabilities CAPABILITY_NAMED_IAM",
        "--template-body file://sam/spoke.yaml",
        "create-stack-instances",
        "--deployment-targets OrganizationalUnitIds=",
        "--regions",
        "OutputKey=='SpokeStackSetParameters'",
    ] {
        assert!(stackset.contains(flag), "{flag} not in {stackset}");
    }
    let by_hand = shell_words(&blocks[2]).join(" ");
    for flag in [
        "aws cloudformation deploy",
        "--template-file sam/spoke.yaml",
        "--capabilities CAPABILITY_NAMED_IAM",
        "--parameter-overrides",
        "OutputKey=='SpokeParameterOverrides'",
    ] {
        assert!(by_hand.contains(flag), "{flag} not in {by_hand}");
    }
}

/// Every parameter and output of both templates is in docs/deploying.md's tables, and every
/// variable the template sets is in the docs.
#[test]
fn every_parameter_output_and_variable_of_the_hub_and_the_spoke_is_documented() {
    let root = integration_tests::workspace_root();
    let deploying = std::fs::read_to_string(root.join("docs/deploying.md")).expect("deploying.md");
    let mut docs = String::new();
    for e in std::fs::read_dir(root.join("docs")).expect("docs/") {
        docs.push_str(&std::fs::read_to_string(e.expect("entry").path()).unwrap_or_default());
    }
    let mut missing = vec![];
    for t in [translate(), spoke()] {
        for section in ["Parameters", "Outputs"] {
            for name in t[section].as_object().expect(section).keys() {
                if !deploying.contains(&format!("| `{name}` |")) {
                    missing.push(format!("{section} {name}"));
                }
            }
        }
    }
    for (_, function) in of_type(&translate(), "AWS::Lambda::Function") {
        for var in function["Properties"]["Environment"]["Variables"]
            .as_object()
            .into_iter()
            .flat_map(|v| v.keys())
        {
            if !docs.contains(&format!("`{var}`")) {
                missing.push(format!("variable {var}"));
            }
        }
    }
    assert_eq!(missing, Vec::<String>::new());
}

/// The README's StackSet and hand-install blocks, run as written by bash and the AWS CLI (v1,
/// in the SAM CLI's venv; these commands and flags are the same in v2) against the emulator:
/// the profiles `hub`, `management` and `member` are the hub's account (moto's default, which
/// also stands for the management account) and a member account, the hub deployed under the
/// README's stack name. The StackSet and its instances are created with the hub's own
/// parameters, and the spoke deployed by hand in the member account comes up with its roles.
#[test]
fn the_readmes_stackset_and_spoke_commands_run_as_written_with_the_aws_cli() {
    let emu = template::emulator();
    let outputs =
        template::create_stack(&emu, &translate(), "platform-autopilot", &hub_parameters());
    let blocks = readme_organization_blocks();

    let member = emu.account_key(MEMBER);
    let dir = std::env::temp_dir().join(format!("autopilot-awscli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "[profile hub]\nregion = {REGION}\naws_access_key_id = testing\naws_secret_access_key = testing\n\
             [profile management]\nregion = {REGION}\naws_access_key_id = testing\naws_secret_access_key = testing\n\
             [profile member]\nregion = {REGION}\naws_access_key_id = {member}\naws_secret_access_key = testing\n"
        ),
    )
    .expect("the AWS CLI's config");
    let root = integration_tests::workspace_root();
    let path = format!(
        "{}:{}",
        root.join(".venv-sam").join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for block in &blocks[1..] {
        let run = Command::new("bash")
            .args(["-euo", "pipefail", "-c", block])
            .current_dir(&root)
            .env("PATH", &path)
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
            .env("AWS_ENDPOINT_URL", &emu.endpoint)
            .env("AWS_PAGER", "")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .output()
            .expect("bash");
        assert!(
            run.status.success(),
            "{block}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);

    // The StackSet, service-managed and following the organization, with the hub's parameters.
    let set = emu.query(
        "cloudformation",
        "2010-05-15",
        &[
            ("Action", "DescribeStackSet"),
            ("StackSetName", "fargate-autopilot-spoke"),
        ],
    );
    assert!(
        set.contains("<PermissionModel>SERVICE_MANAGED</PermissionModel>"),
        "{set}"
    );
    for (key, value) in [
        ("HubAccountId", ACCOUNT.to_string()),
        ("HubEventBusArn", outputs["EventBusArn"].clone()),
    ] {
        assert!(
            set.contains(&format!("<ParameterKey>{key}</ParameterKey>"))
                && set.contains(&format!("<ParameterValue>{value}</ParameterValue>")),
            "{key}={value} in {set}"
        );
    }
    // The instances' operation, for the README's OU and region (the emulator has no such OU to
    // resolve into accounts, so it lists no instance: AWS would create one per account of it).
    let operations = emu.query(
        "cloudformation",
        "2010-05-15",
        &[
            ("Action", "ListStackSetOperations"),
            ("StackSetName", "fargate-autopilot-spoke"),
        ],
    );
    assert!(
        operations.contains("<Action>CREATE</Action>")
            && operations.contains("<Status>SUCCEEDED</Status>"),
        "{operations}"
    );

    // The spoke by hand: up in the member account, with its four roles there.
    let spoke = emu.query_as(
        &member,
        "cloudformation",
        "2010-05-15",
        &[
            ("Action", "DescribeStacks"),
            ("StackName", "fargate-autopilot-spoke"),
        ],
    );
    assert!(
        spoke.contains("<StackStatus>CREATE_COMPLETE</StackStatus>"),
        "{spoke}"
    );
    // (moto gives a stack made through a change set no outputs: the roles are read instead.)
    for function in ["deployer", "task-watcher", "alarm-notifier", "off-hours"] {
        let name = format!("fargate-autopilot-{function}");
        let role = emu.query_as(
            &member,
            "iam",
            "2010-05-08",
            &[("Action", "GetRole"), ("RoleName", &name)],
        );
        let arn = format!("arn:aws:iam::{MEMBER}:role/{name}");
        assert!(role.contains(&arn), "{arn} in {role}");
    }
}
