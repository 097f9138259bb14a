//! `sam/template.yaml`, checked as hard as the Rust code: the linters, the translated template,
//! a deploy into the emulator's CloudFormation, the rules' patterns through the emulator's
//! EventBridge, the functions' environment against what their configuration reads, and each
//! role against the AWS calls its function makes.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use autopilot_core::alarms::AlarmNotifierConfig;
use autopilot_core::config::Env;
use autopilot_core::deploy::DeployerConfig;
use autopilot_core::offhours::OffHoursConfig;
use autopilot_core::tasks::TaskWatcherConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use integration_tests::emulator::{xml_value, Emulator, ACCOUNT, REGION};
use integration_tests::iam::{actions, role_statements_in};
use integration_tests::template::{
    self, function_name, template_path, tool, translate, DeployedStack, Rule, FUNCTIONS,
};
use integration_tests::{release_binary, run_function, sample_event};
use serde_json::{json, Value};

const CLUSTER: &str = "autopilot-cluster-demo";
const SERVICE: &str = "autopilot-service-demo";
const REPOSITORY: &str = "autopilot-demo";

// ---------------------------------------------------------------------------------------------
// Linters
// ---------------------------------------------------------------------------------------------

/// Runs a tool; returns (success, stdout + stderr).
fn run(command: &mut Command) -> (bool, String) {
    let out = command
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn cfn_lint_finds_nothing_in_the_template() {
    let (ok, output) = run(Command::new(tool(".venv-sam", "cfn-lint")).arg(template_path()));
    assert!(ok && output.trim().is_empty(), "cfn-lint:\n{output}");
}

#[test]
fn sam_validate_lint_accepts_the_template() {
    let (ok, output) = run(Command::new(tool(".venv-sam", "sam"))
        .args(["validate", "--lint", "--region", REGION, "--template-file"])
        .arg(template_path()));
    assert!(ok, "sam validate --lint:\n{output}");
}

#[test]
fn checkov_fails_no_check_and_every_skip_says_why() {
    // Both the template as written and as translated (the roles and functions SAM generates).
    let translated =
        std::env::temp_dir().join(format!("autopilot-checkov-{}.json", std::process::id()));
    std::fs::write(&translated, translate().to_string()).expect("write the translated template");
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
        .arg(template_path())
        .arg("-f")
        .arg(&translated));
    let _ = std::fs::remove_file(&translated);
    let start = output.find(['{', '[']).unwrap_or(0);
    let report: Value = serde_json::from_str(&output[start..])
        .unwrap_or_else(|e| panic!("checkov did not print a JSON report ({e}):\n{output}"));
    let reports = match report {
        Value::Array(all) => all,
        one => vec![one],
    };
    let mut passed = 0;
    for r in &reports {
        let results = &r["results"];
        let failed: Vec<String> = results["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!("{} {} ({})", c["check_id"], c["resource"], c["file_path"]))
            .collect();
        assert!(failed.is_empty(), "checkov failed checks: {failed:#?}");
        for skipped in results["skipped_checks"].as_array().into_iter().flatten() {
            let reason = skipped["check_result"]["suppress_comment"]
                .as_str()
                .unwrap_or("");
            assert!(
                reason.len() > 20,
                "checkov skip {} on {} gives no reason",
                skipped["check_id"],
                skipped["resource"]
            );
        }
        assert_eq!(r["summary"]["failed"], 0, "{}", r["summary"]);
        passed += r["summary"]["passed"].as_u64().unwrap_or(0);
    }
    assert!(
        passed > 100,
        "checkov ran only {passed} checks: {reports:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The translated template: what the emulator's CloudFormation drops or only pretends to create
// ---------------------------------------------------------------------------------------------

/// The FIFO queue whose event source mapping feeds `function` one message at a time, when
/// every rule that targets that queue sends to one message group: Lambda then invokes the
/// function for one message of the group at a time ("Using Lambda with Amazon SQS", FIFO
/// queues), the serialisation reserved concurrency of 1 gave.
fn serialised_by(t: &Value, function: &str) -> Option<String> {
    let r = resources(t);
    let mapping = r.values().find(|m| {
        m["Type"] == "AWS::Lambda::EventSourceMapping"
            && m["Properties"]["FunctionName"] == json!({"Ref": function})
    })?;
    let p = &mapping["Properties"];
    let queue = p["EventSourceArn"]["Fn::GetAtt"][0].as_str()?.to_string();
    assert_eq!(p["BatchSize"], 1, "{function}: one message per invocation");
    assert_eq!(
        p["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"]),
        "{function}"
    );
    assert_eq!(r[&queue]["Properties"]["FifoQueue"], true, "{queue}");
    let groups: BTreeSet<String> = r
        .values()
        .filter(|x| x["Type"] == "AWS::Events::Rule")
        .flat_map(|x| {
            x["Properties"]["Targets"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|target| target["Arn"] == json!({"Fn::GetAtt": [queue, "Arn"]}))
        .map(|target| {
            target["SqsParameters"]["MessageGroupId"]
                .as_str()
                .unwrap_or_else(|| panic!("{queue}: a target without a message group"))
                .to_string()
        })
        .collect();
    assert_eq!(
        groups.len(),
        1,
        "{queue}: one message group, got {groups:?}"
    );
    Some(queue)
}

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().expect("Resources")
}

fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

#[test]
fn functions_are_arm64_json_logging_with_dead_letters_and_retries() {
    let t = translate();
    let functions = of_type(&t, "AWS::Lambda::Function");
    assert_eq!(functions.len(), FUNCTIONS.len(), "{functions:?}");
    for (id, f) in &functions {
        let p = &f["Properties"];
        assert_eq!(p["Architectures"], json!(["arm64"]), "{id}");
        assert_eq!(p["Runtime"], "provided.al2023", "{id}");
        assert_eq!(p["Handler"], "bootstrap", "{id}");
        assert_eq!(p["MemorySize"], 128, "{id}");
        assert_eq!(p["LoggingConfig"]["LogFormat"], "JSON", "{id}");
        assert_eq!(
            p["DeadLetterConfig"]["TargetArn"],
            json!({"Fn::GetAtt": ["FunctionsDeadLetterQueue", "Arn"]}),
            "{id}: async failures land in the functions' dead-letter queue"
        );
        // A new account's concurrency quota (10) cannot spare a reservation: Lambda refuses one
        // that leaves less than its minimum unreserved.
        assert!(p.get("ReservedConcurrentExecutions").is_none(), "{id}");
        let invoke = resources(&t)
            .get(&format!("{id}EventInvokeConfig"))
            .unwrap_or_else(|| panic!("{id} has no EventInvokeConfig"));
        assert_eq!(invoke["Properties"]["MaximumRetryAttempts"], 2, "{id}");
    }
    // One at a time instead: each of these reads one FIFO queue, one message at a time.
    for (function, queue, reason) in [
        (
            "DeployerFunction",
            "DeployerQueue",
            "two pushes never race on one service",
        ),
        (
            "TaskWatcherFunction",
            "TaskWatcherQueue",
            "a burst of stops makes one crash-loop alert",
        ),
        (
            "OffHoursFunction",
            "OffHoursQueue",
            "a tick delivered twice never runs beside itself",
        ),
    ] {
        assert_eq!(
            serialised_by(&t, function).as_deref(),
            Some(queue),
            "{function}: {reason}"
        );
        let q = &resources(&t)[queue]["Properties"];
        assert_eq!(q["FifoQueue"], true, "{queue}");
        assert_eq!(q["ContentBasedDeduplication"], true, "{queue}");
        assert_eq!(
            q["RedrivePolicy"]["deadLetterTargetArn"],
            json!({"Fn::GetAtt": ["OrderedDeadLetterQueue", "Arn"]}),
            "{queue}"
        );
        // Lambda's advice: a visibility timeout of six times the function's timeout.
        assert_eq!(
            q["VisibilityTimeout"].as_u64(),
            resources(&t)[function]["Properties"]["Timeout"]
                .as_u64()
                .map(|s| s * 6),
            "{queue}"
        );
        // Pushes and stops wait longer than Lambda's asynchronous queue keeps an event (6
        // hours); a tick is stale within the hour, when later ticks have reconciled.
        let kept = q["MessageRetentionPeriod"].as_u64().unwrap_or(0);
        if queue == "OffHoursQueue" {
            assert_eq!(kept, 3600, "{queue}");
        } else {
            assert!(kept > 6 * 3600, "{queue}: {kept}");
        }
    }
    // The alarm-notifier runs alarms side by side: each is told from its own history.
    assert_eq!(serialised_by(&t, "AlarmNotifierFunction"), None);
    for (id, rule) in of_type(&t, "AWS::Events::Rule") {
        for target in rule["Properties"]["Targets"].as_array().expect("targets") {
            assert!(
                target["RetryPolicy"]["MaximumRetryAttempts"].is_number(),
                "{id}"
            );
            assert_eq!(
                target["DeadLetterConfig"]["Arn"],
                json!({"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}),
                "{id}: undeliverable events land in the events dead-letter queue"
            );
        }
    }
}

#[test]
fn service_alarms_reach_chat_only_through_the_alarm_notifier() {
    let t = translate();
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    let service_alarms = ["CpuHighAlarm", "MemoryHighAlarm", "NoRunningTasksAlarm"];
    for id in service_alarms {
        let a = &resources(&t)[id];
        assert_eq!(a["Condition"], "AlarmsOn", "{id}");
        let p = &a["Properties"];
        let name = p["AlarmName"]["Fn::Sub"].as_str().unwrap_or_default();
        assert!(
            name.starts_with("${ProjectName}-${Environment}-"),
            "{id}: the alarm-notifier's rule matches this prefix: {name}"
        );
        // Never the chat topic: that would reach chat twice (raw and through the notifier).
        assert_eq!(
            p["AlarmActions"],
            json!({"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmSnsTopicArn"}], {"Ref": "AWS::NoValue"}]}),
            "{id}"
        );
        assert!(
            p["Tags"]
                .as_array()
                .is_some_and(|tags| tags.iter().any(|t| t["Key"] == "autopilot:severity")),
            "{id}"
        );
    }
    // Its metric, with Container Insights on or off, is checked by
    // the_no_running_tasks_alarm_means_something_with_container_insights_off.
    // The autopilot's own alarms (function errors, dead-letter queues) go to the topic directly,
    // never through a function that may be the one failing: their names fall outside the rule.
    let own: Vec<_> = alarms
        .iter()
        .filter(|(id, _)| !service_alarms.contains(&id.as_str()))
        .collect();
    assert_eq!(
        own.len(),
        6,
        "4 function error alarms and 2 queue alarms: {own:?}"
    );
    for (id, a) in own {
        let p = &a["Properties"];
        assert_eq!(
            p["AlarmActions"],
            json!([{"Ref": "NotificationTopic"}]),
            "{id}"
        );
        let name = p["AlarmName"]["Fn::Sub"].as_str().unwrap_or_default();
        assert!(name.starts_with("autopilot-${ProjectName}"), "{id}: {name}");
    }
    for binary in ["Deployer", "TaskWatcher", "AlarmNotifier", "OffHours"] {
        let a = &resources(&t)[&format!("{binary}ErrorsAlarm")]["Properties"];
        assert_eq!(a["MetricName"], "Errors", "{binary}");
        assert_eq!(
            a["Dimensions"][0]["Value"],
            json!({"Ref": format!("{binary}Function")})
        );
    }
}

#[test]
fn the_no_running_tasks_alarm_means_something_with_container_insights_off() {
    // RunningTaskCount exists only with Container Insights; AWS/ECS publishes a service's
    // CPUUtilization each minute only while a task runs ("Amazon ECS CloudWatch metrics"), so
    // without Insights its SampleCount, missing data breaching, is the same alarm.
    let t = translate();
    let a = &resources(&t)["NoRunningTasksAlarm"]["Properties"];
    assert_eq!(
        a["Namespace"],
        json!({"Fn::If": ["InsightsOn", "ECS/ContainerInsights", "AWS/ECS"]})
    );
    assert_eq!(
        a["MetricName"],
        json!({"Fn::If": ["InsightsOn", "RunningTaskCount", "CPUUtilization"]})
    );
    assert_eq!(
        a["Statistic"],
        json!({"Fn::If": ["InsightsOn", "Minimum", "SampleCount"]})
    );
    assert_eq!(a["ComparisonOperator"], "LessThanThreshold");
    assert_eq!(a["Threshold"], 1);
    assert_eq!(a["TreatMissingData"], "breaching");
}

#[test]
fn ecs_exec_gets_a_writable_root_and_only_then() {
    // ECS Exec's SSM agent writes to the container's filesystem; with a read-only root it does
    // not start (ECS developer guide, ECS Exec considerations).
    let t = translate();
    let c = &resources(&t)["TaskDefinition"]["Properties"]["ContainerDefinitions"][0];
    assert_eq!(
        c["ReadonlyRootFilesystem"],
        json!({"Fn::If": ["ExecOn", false, true]})
    );
    assert_eq!(
        resources(&t)["Service"]["Properties"]["EnableExecuteCommand"],
        json!({"Fn::If": ["ExecOn", true, false]})
    );
}

#[test]
fn the_repository_outlives_the_stack_and_the_ca_bundle_is_a_parameter() {
    let t = translate();
    let repo = &resources(&t)["Repository"];
    assert_eq!(
        repo["DeletionPolicy"], "Retain",
        "images may be the only copy of a release"
    );
    assert_eq!(repo["UpdateReplacePolicy"], "Retain");
    // AWS_CA_BUNDLE survives a deploy: the CaBundle parameter, or the runtime's system store in
    // a partition whose endpoints do not chain to the Amazon roots the functions trust.
    let expected = json!({"Fn::If": ["HasCaBundle", {"Ref": "CaBundle"},
        {"Fn::If": ["AmazonRootsPartition", {"Ref": "AWS::NoValue"}, "/etc/pki/tls/certs/ca-bundle.crt"]}]});
    for (id, f) in of_type(&t, "AWS::Lambda::Function") {
        assert_eq!(
            f["Properties"]["Environment"]["Variables"]["AWS_CA_BUNDLE"], expected,
            "{id}"
        );
    }
    assert_eq!(
        t["Conditions"]["AmazonRootsPartition"],
        json!({"Fn::Or": [{"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws"]},
                          {"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws-us-gov"]}]})
    );
}

#[test]
fn auto_scaling_tracks_cpu_and_memory_and_owns_the_desired_count() {
    let t = translate();
    let r = resources(&t);
    let target = &r["ScalableTarget"];
    assert_eq!(target["Condition"], "AutoscalingOn");
    assert_eq!(
        (
            &target["Properties"]["MinCapacity"],
            &target["Properties"]["MaxCapacity"]
        ),
        (
            &json!({"Ref": "AutoscalingMinCapacity"}),
            &json!({"Ref": "AutoscalingMaxCapacity"})
        )
    );
    for (id, metric, value) in [
        (
            "CpuScalingPolicy",
            "ECSServiceAverageCPUUtilization",
            "AutoscalingCpuTarget",
        ),
        (
            "MemoryScalingPolicy",
            "ECSServiceAverageMemoryUtilization",
            "AutoscalingMemoryTarget",
        ),
    ] {
        let c = &r[id]["Properties"]["TargetTrackingScalingPolicyConfiguration"];
        assert_eq!(
            c["PredefinedMetricSpecification"]["PredefinedMetricType"],
            metric
        );
        assert_eq!(c["TargetValue"], json!({"Ref": value}));
        assert_eq!(
            r[id]["Properties"]["ScalingTargetId"],
            json!({"Ref": "ScalableTarget"})
        );
    }
    // With auto scaling on, a stack update must not reset the count auto scaling (or off-hours,
    // or a crash loop's scale-to-zero) chose: the service leaves it out.
    assert_eq!(
        r["Service"]["Properties"]["DesiredCount"],
        json!({"Fn::If": ["AutoscalingOn", {"Ref": "AWS::NoValue"}, {"Ref": "DesiredCount"}]})
    );
}

/// Evaluates a `Rules` assertion for the given parameter values (a parameter not given takes
/// its default; a CommaDelimitedList is a list, as CloudFormation gives it to `Rules`).
fn eval(e: &Value, params: &BTreeMap<&str, String>, t: &Value) -> Value {
    let Some((f, args)) = e.as_object().and_then(|o| o.iter().next()) else {
        return e.clone();
    };
    let arg = |i: usize| eval(&args[i], params, t);
    match f.as_str() {
        "Ref" => {
            let name = args.as_str().expect("Ref name");
            let declared = &t["Parameters"][name];
            let value = params.get(name).cloned().unwrap_or_else(|| {
                declared["Default"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| panic!("{name}: no value given and no default"))
            });
            if declared["Type"] == "CommaDelimitedList" {
                json!(value.split(',').collect::<Vec<_>>())
            } else {
                json!(value)
            }
        }
        "Fn::Equals" => json!(arg(0) == arg(1)),
        "Fn::Contains" => json!(arg(0).as_array().expect("list").contains(&arg(1))),
        "Fn::And" => json!((0..args.as_array().map_or(0, Vec::len)).all(|i| arg(i) == json!(true))),
        "Fn::Or" => json!((0..args.as_array().map_or(0, Vec::len)).any(|i| arg(i) == json!(true))),
        "Fn::Not" => json!(arg(0) != json!(true)),
        other => panic!("a Rules function the test does not evaluate: {other}"),
    }
}

/// Whether every rule of the template holds for these values.
fn rules_hold(t: &Value, params: &BTreeMap<&str, String>) -> bool {
    t["Rules"].as_object().expect("Rules").values().all(|rule| {
        let applies = rule
            .get("RuleCondition")
            .is_none_or(|c| eval(c, params, t) == json!(true));
        !applies
            || rule["Assertions"]
                .as_array()
                .expect("Assertions")
                .iter()
                .all(|a| eval(&a["Assert"], params, t) == json!(true))
    })
}

/// Fargate's CPU/memory pairs for Linux tasks, from the ECS developer guide ("Task CPU and
/// memory"): the oracle the template's `Rules` must agree with.
fn fargate_accepts(cpu: u32, memory: u32) -> bool {
    let steps = |from: u32, to: u32, step: u32| {
        memory >= from && memory <= to && (memory - from).is_multiple_of(step)
    };
    match cpu {
        256 => [512, 1024, 2048].contains(&memory),
        512 => steps(1024, 4096, 1024),
        1024 => steps(2048, 8192, 1024),
        2048 => steps(4096, 16384, 1024),
        4096 => steps(8192, 30720, 1024),
        8192 => steps(16384, 61440, 4096),
        16384 => steps(32768, 122880, 8192),
        _ => false,
    }
}

#[test]
fn the_rules_section_accepts_exactly_the_cpu_memory_pairs_fargate_accepts() {
    let t = translate();
    // Without the ECS stack, so that no other rule needs its inputs: the CPU/memory rules hold
    // whatever is created.
    let mut params: BTreeMap<&str, String> = BTreeMap::from([
        ("SlackWorkspaceId", String::new()),
        ("SlackChannelId", String::new()),
        ("CreateEcsStack", "false".into()),
        ("Scope", "account".into()),
    ]);
    let mut checked = 0;
    for cpu in [256, 512, 1024, 2048, 4096, 8192, 16384] {
        for memory in (512..=122_880).step_by(512) {
            params.insert("TaskCpu", cpu.to_string());
            params.insert("TaskMemory", memory.to_string());
            assert_eq!(
                rules_hold(&t, &params),
                fargate_accepts(cpu, memory),
                "TaskCpu {cpu}, TaskMemory {memory}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 7 * 240);
    params.insert("TaskCpu", "512".into());
    params.insert("TaskMemory", "1024".into());
    params.insert("SlackWorkspaceId", "T0123".into());
    assert!(
        !rules_hold(&t, &params),
        "a Slack workspace without a channel is rejected"
    );
    params.insert("SlackChannelId", "C0123".into());
    assert!(rules_hold(&t, &params));
}

/// The ECS stack's inputs, as a guided `sam deploy` asks for them.
fn ecs_inputs() -> BTreeMap<&'static str, String> {
    [
        ("VpcId", "vpc-0123456789abcdef0"),
        (
            "PrivateSubnetIds",
            "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        ),
        ("AlbSecurityGroupId", "sg-0123456789abcdef0"),
        (
            "TargetGroupArn",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef",
        ),
        (
            "EcsExecutionRoleArn",
            "arn:aws:iam::123456789012:role/execution",
        ),
        ("EcsTaskRoleArn", "arn:aws:iam::123456789012:role/task"),
        ("NextAuthUrl", "https://app.example.com"),
        (
            "DatabaseSecretArn",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
        ),
        (
            "NextAuthSecretArn",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:na",
        ),
        (
            "AnthropicSecretArn",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:an",
        ),
        (
            "GoogleOAuthSecretArn",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:go",
        ),
        (
            "EncryptionKeySecretArn",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:ek",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

#[test]
fn the_rules_require_the_ecs_stacks_inputs_only_when_it_is_created_and_alone_means_fleet_mode() {
    let t = translate();
    let with = |pairs: &[(&'static str, &str)]| {
        let mut p = ecs_inputs();
        for (k, v) in pairs {
            p.insert(k, v.to_string());
        }
        rules_hold(&t, &p)
    };
    assert!(with(&[]), "the stack with all its inputs");
    assert!(with(&[("Scope", "account")]), "fleet mode with the stack");
    for missing in ecs_inputs().keys() {
        assert!(
            !with(&[(missing, "")]),
            "CreateEcsStack=true without {missing}"
        );
    }
    // The autopilot alone: none of the inputs, in fleet mode only.
    let alone: BTreeMap<&str, String> = BTreeMap::from([
        ("CreateEcsStack", "false".to_string()),
        ("Scope", "account".to_string()),
    ]);
    assert!(rules_hold(&t, &alone));
    let mut stack_scope = alone.clone();
    stack_scope.insert("Scope", "stack".into());
    assert!(!rules_hold(&t, &stack_scope), "no ECS stack to scope to");
}

/// Runs one of the template tools of `tools/` with the SAM venv's Python; returns its stdout as
/// JSON, or panics with what it printed.
fn python_tool(script: &str, args: &[&str]) -> Value {
    let root = integration_tests::workspace_root();
    let (ok, output) = run(Command::new(tool(".venv-sam", "python"))
        .arg(root.join("tools").join(script))
        .args(args));
    assert!(ok, "tools/{script} {args:?}:\n{output}");
    serde_json::from_str(&output)
        .unwrap_or_else(|e| panic!("tools/{script}: not JSON ({e}):\n{output}"))
}

/// What `sam deploy <args>` sends, run in `sam_dir`: the parameters resolved by the SAM CLI's
/// own code (`tools/sam_params.py`: samconfig.toml's `parameter_overrides`, or the command
/// line's, which replace them whole).
fn sam_deploy_parameters(sam_dir: &std::path::Path, args: &[&str]) -> BTreeMap<String, String> {
    let env = args
        .iter()
        .position(|a| *a == "--config-env")
        .and_then(|i| args.get(i + 1))
        .copied()
        .unwrap_or("default");
    let mut tool_args = vec![sam_dir.to_str().expect("UTF-8 path"), env];
    if let Some(i) = args.iter().position(|a| *a == "--parameter-overrides") {
        tool_args.push("--parameter-overrides");
        tool_args.extend(args[i + 1..].iter().take_while(|a| !a.starts_with("--")));
    }
    let resolved = python_tool("sam_params.py", &tool_args);
    serde_json::from_value(resolved["parameters"].clone()).expect("parameters")
}

/// The problems CloudFormation would refuse `params` for (missing, AllowedValues,
/// AllowedPattern, Min/MaxValue), by `tools/check_params.py`, plus the template's `Rules`.
fn refused(t: &Value, params: &BTreeMap<String, String>) -> Vec<String> {
    let file = std::env::temp_dir().join(format!(
        "autopilot-params-{}-{}.json",
        std::process::id(),
        fastrand::u64(..)
    ));
    let template = file.with_extension("template.json");
    std::fs::write(&file, serde_json::to_string(params).expect("JSON")).expect("write");
    std::fs::write(&template, t.to_string()).expect("write");
    let problems = python_tool(
        "check_params.py",
        &[
            template.to_str().expect("path"),
            file.to_str().expect("path"),
        ],
    );
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&template);
    let mut problems: Vec<String> = serde_json::from_value(problems).expect("a list");
    let given: BTreeMap<&str, String> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    if problems.is_empty() && !rules_hold(t, &given) {
        problems.push("the template's Rules refuse the set".into());
    }
    problems
}

/// A copy of `sam/` (samconfig.toml and params/) with each environment's empty inputs filled
/// in as the README tells a user to, with values of the right form.
fn sam_dir_as_a_user_fills_it() -> std::path::PathBuf {
    let root = integration_tests::workspace_root().join("sam");
    let dir = std::env::temp_dir().join(format!(
        "autopilot-sam-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(dir.join("params")).expect("mkdir");
    std::fs::copy(root.join("samconfig.toml"), dir.join("samconfig.toml")).expect("copy");
    let inputs = ecs_inputs();
    for env in ["dev", "prod"] {
        let text =
            std::fs::read_to_string(root.join(format!("params/{env}.yaml"))).expect("params file");
        let mut filled = vec![];
        for line in text.lines() {
            match line.split_once(": \"\"") {
                Some((key, _)) => {
                    let value = inputs.get(key).unwrap_or_else(|| {
                        panic!("params/{env}.yaml leaves {key} empty, which the README does not ask for")
                    });
                    filled.push(format!("{key}: \"{value}\""));
                }
                None => filled.push(line.to_string()),
            }
        }
        std::fs::write(dir.join(format!("params/{env}.yaml")), filled.join("\n")).expect("write");
    }
    dir
}

/// The `sam deploy` lines of the README's first-deploy block ("Build and deploy, from an empty
/// account"), each split into its arguments.
fn readme_first_deploy() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(integration_tests::workspace_root().join("README.md"))
        .expect("README.md");
    let section = readme
        .split("### Build and deploy, from an empty account")
        .nth(1)
        .expect("the README's section \"Build and deploy, from an empty account\"");
    let block = section
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("its sh block");
    block
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("sam deploy "))
        .map(|l| {
            l.split('#')
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

#[test]
fn the_readmes_first_deploy_runs_as_written_from_an_empty_account() {
    let t = translate();
    let dir = sam_dir_as_a_user_fills_it();
    let commands = readme_first_deploy();
    assert_eq!(commands.len(), 2, "{commands:?}");
    for env in ["dev", "prod"] {
        // As the README says for prod: the same commands with its file and environment.
        let commands: Vec<Vec<String>> = commands
            .iter()
            .map(|c| c.iter().map(|a| a.replace("dev", env)).collect())
            .collect();
        let own = sam_deploy_parameters(&dir, &["--config-env", env]);
        // What the stack holds after each command: a parameter the command leaves out takes
        // its default on a new stack and keeps its value on an update (SAM's merge_parameters).
        let mut stack: BTreeMap<String, String> = BTreeMap::new();
        for (i, command) in commands.iter().enumerate() {
            let args: Vec<&str> = command.iter().map(String::as_str).collect();
            let sent = sam_deploy_parameters(&dir, &args);
            if i == 0 {
                for (k, p) in t["Parameters"].as_object().expect("Parameters") {
                    if let Some(d) = p.get("Default") {
                        stack.insert(k.clone(), d.as_str().map_or(d.to_string(), str::to_string));
                    }
                }
            }
            stack.extend(sent);
            let problems = refused(&t, &stack);
            assert!(
                problems.is_empty(),
                "{env}: `sam deploy {}` is refused: {problems:?}",
                command.join(" ")
            );
            if i == 0 {
                // The first deploy starts no task (no image exists yet) and pages nobody for it.
                assert_eq!(stack["DesiredCount"], "0", "{env}: {command:?}");
                assert_eq!(stack["EnableAutoscaling"], "false", "{env}: {command:?}");
                assert_eq!(stack["EnableAlarms"], "false", "{env}: {command:?}");
                for (k, v) in &own {
                    if !["DesiredCount", "EnableAutoscaling", "EnableAlarms"].contains(&k.as_str())
                    {
                        assert_eq!(
                            &stack[k], v,
                            "{env}: the first deploy keeps the environment's {k}"
                        );
                    }
                }
            }
        }
        // The last leaves the stack as the environment says, count and scaling included.
        for (k, v) in &own {
            assert_eq!(&stack[k], v, "{env}: {k} after the README's commands");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A shell command line split as the shell splits it: on blanks outside quotes, quotes
/// removed (inside single quotes everything is literal, double quotes included), `\` line
/// continuations joined.
fn shell_words(line: &str) -> Vec<String> {
    let line = line.replace("\\\n", " ");
    let (mut words, mut word, mut any) = (vec![], String::new(), false);
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (c, quote) {
            ('"' | '\'', None) => {
                quote = Some(c);
                any = true;
            }
            (c, Some(q)) if c == q => quote = None,
            (c, Some(_)) => word.push(c),
            (c, None) if c.is_whitespace() => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            (c, None) => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}

/// The fleet install of `docs/fleet-mode.md` ("Install once per account"), resolved by the SAM
/// CLI's own code and accepted by the template.
#[test]
fn the_fleet_install_of_the_fleet_mode_page_runs_as_written_on_a_new_account() {
    let page =
        std::fs::read_to_string(integration_tests::workspace_root().join("docs/fleet-mode.md"))
            .expect("docs/fleet-mode.md");
    let block = page
        .split("## Install once per account")
        .nth(1)
        .and_then(|s| s.split("```sh").nth(1))
        .and_then(|b| b.split("```").next())
        .expect("the fleet install's sh block");
    let words = shell_words(block);
    let at = words
        .iter()
        .position(|w| w == "deploy")
        .expect("a sam deploy in the block");
    let args: Vec<&str> = words[at + 1..]
        .iter()
        .map(String::as_str)
        .filter(|w| *w != "--guided")
        .collect();
    let t = translate();
    let dir = sam_dir_as_a_user_fills_it();
    let sent = sam_deploy_parameters(&dir, &args);
    assert_eq!(sent["OffHoursOnHours"], "Mon-Fri 07:00-19:00", "{sent:?}");
    let mut stack: BTreeMap<String, String> = BTreeMap::new();
    for (k, p) in t["Parameters"].as_object().expect("Parameters") {
        if let Some(d) = p.get("Default") {
            stack.insert(k.clone(), d.as_str().map_or(d.to_string(), str::to_string));
        }
    }
    stack.extend(sent);
    assert_eq!(refused(&t, &stack), Vec::<String>::new(), "{stack:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// The docs: every page reachable from the README, every link to a file and heading that exist
// ---------------------------------------------------------------------------------------------

/// The text of a Markdown file outside its fenced code blocks.
fn outside_code_blocks(markdown: &str) -> String {
    let mut fenced = false;
    let mut kept = String::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// GitHub's anchor of a heading: lower-case, spaces to `-`, punctuation other than `-` and `_`
/// removed.
fn heading_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings, in order (a repeated one is repeated).
fn heading_anchors(markdown: &str) -> Vec<String> {
    outside_code_blocks(markdown)
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| heading_anchor(l.trim_start_matches('#')))
        .collect()
}

/// The targets of a Markdown file's inline links (`[text](target)`) outside code blocks.
fn link_targets(markdown: &str) -> Vec<String> {
    outside_code_blocks(markdown)
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(str::to_string)
        .collect()
}

/// What is wrong with the links of the README and the docs pages: a page the README does not
/// link to, a relative link to a file that does not exist or to a heading its file does not
/// have, a heading repeated on one page (GitHub would give the second another anchor).
fn docs_link_problems(root: &std::path::Path) -> Vec<String> {
    let mut files = vec![root.join("README.md")];
    let mut pages: Vec<_> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    files.extend(pages.iter().cloned());
    let name = |p: &std::path::Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let mut problems = vec![];
    let mut linked_from_readme = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a markdown file");
        let mut seen = BTreeSet::new();
        for anchor in heading_anchors(&text) {
            if !seen.insert(anchor.clone()) {
                problems.push(format!("{}: the heading #{anchor} is repeated", name(file)));
            }
        }
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let linked = if path.is_empty() {
                file.clone()
            } else {
                file.parent().expect("a folder").join(path)
            };
            let Ok(linked) = linked.canonicalize() else {
                problems.push(format!("{}: ({target}) names no file", name(file)));
                continue;
            };
            if *file == root.join("README.md") {
                linked_from_readme.insert(linked.clone());
            }
            if !anchor.is_empty() {
                let headings = std::fs::read_to_string(&linked)
                    .map(|t| heading_anchors(&t))
                    .unwrap_or_default();
                if !headings.iter().any(|h| h == anchor) {
                    problems.push(format!(
                        "{}: ({target}): {} has no heading #{anchor}",
                        name(file),
                        name(&linked)
                    ));
                }
            }
        }
    }
    for page in &pages {
        if !linked_from_readme.contains(&page.canonicalize().expect("a page")) {
            problems.push(format!("{} is not linked from README.md", name(page)));
        }
    }
    problems
}

#[test]
fn readme_links_every_docs_page_and_every_link_of_the_docs_leads_somewhere() {
    assert_eq!(
        heading_anchor(" What `make demo` does"),
        "what-make-demo-does"
    );
    assert_eq!(
        heading_anchor("Build and deploy, from an empty account"),
        "build-and-deploy-from-an-empty-account"
    );
    let root = integration_tests::workspace_root();
    assert_eq!(docs_link_problems(&root), Vec::<String>::new());
}

#[test]
fn overrides_on_the_command_line_replace_samconfigs_so_alone_they_are_refused_on_a_new_stack() {
    // The command the README gave before: SAM sends only these two, a new stack takes every
    // other parameter's default (Environment=production, no VPC) and the Rules refuse it.
    let t = translate();
    let dir = sam_dir_as_a_user_fills_it();
    let sent = sam_deploy_parameters(
        &dir,
        &[
            "--config-env",
            "dev",
            "--parameter-overrides",
            "EnableAutoscaling=false",
            "DesiredCount=0",
        ],
    );
    assert_eq!(sent.len(), 2, "{sent:?}");
    let mut stack: BTreeMap<String, String> = BTreeMap::new();
    for (k, p) in t["Parameters"].as_object().expect("Parameters") {
        if let Some(d) = p.get("Default") {
            stack.insert(k.clone(), d.as_str().map_or(d.to_string(), str::to_string));
        }
    }
    stack.extend(sent);
    assert_eq!(stack["Environment"], "production");
    assert_eq!(refused(&t, &stack), ["the template's Rules refuse the set"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn samconfig_environments_use_only_template_parameters_with_valid_values() {
    let t = translate();
    let dir = sam_dir_as_a_user_fills_it();
    for env in ["dev", "prod"] {
        let params = sam_deploy_parameters(&dir, &["--config-env", env]);
        assert!(params.len() > 20, "{env}: {params:?}");
        assert_eq!(refused(&t, &params), Vec::<String>::new(), "{env}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every name, description and tag value of the translated template with the longest
/// `ProjectName` and `Environment` their patterns allow, checked by `tools/limits.py` against
/// botocore's API models (min, max, pattern) and, where the limit is only in the API
/// reference's prose, against that.
fn limits(t: &Value, scope: &str) -> Value {
    let file = std::env::temp_dir().join(format!(
        "autopilot-limits-{}-{}.json",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::write(&file, t.to_string()).expect("write");
    let out = python_tool("limits.py", &[file.to_str().expect("path"), scope]);
    let _ = std::fs::remove_file(&file);
    out
}

#[test]
fn no_rule_takes_the_name_a_rule_of_another_logical_id_had_in_the_last_release() {
    // The last release made its rules from SAM events (logical ids <Function><Event>); this one
    // declares them itself. On a stack update CloudFormation creates a resource whose logical id
    // is new before it deletes the old one, so a new rule with an old rule's name fails with
    // "already exists": every name must be new.
    let last_release = [
        "autopilot-image-pushed",
        "autopilot-deployment-state",
        "autopilot-task-stopped",
        "autopilot-alarm-state",
        "autopilot-off-hours",
    ];
    let t = translate();
    for (id, rule) in of_type(&t, "AWS::Events::Rule") {
        let name = rule["Properties"]["Name"]["Fn::Sub"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: a rule named by Fn::Sub"));
        let suffix = name
            .strip_prefix("${ProjectName}-${Environment}-")
            .unwrap_or_else(|| panic!("{id}: {name}"));
        let was_sam_event = id.starts_with("AlarmNotifierFunction");
        assert!(
            was_sam_event || !last_release.contains(&suffix),
            "{id} is named {name}, as a rule of the last release was"
        );
    }
}

#[test]
fn every_name_description_and_tag_fits_awss_limits_with_the_longest_parameters() {
    let t = translate();
    for scope in ["stack", "account"] {
        let checked = limits(&t, scope);
        assert_eq!(checked["violations"], json!([]), "{scope}");
        assert!(checked["checked"].as_u64() > Some(90), "{scope}: {checked}");
    }
    // The check sees what AWS refuses: an EventBridge rule name over 64 characters and an
    // apostrophe in a security group rule's description.
    let mut bad = t.clone();
    bad["Resources"]["ImagePushedRule"]["Properties"]["Name"] =
        json!({"Fn::Sub": "${ProjectName}-${Environment}-autopilot-deployment-state"});
    bad["Resources"]["TaskSecurityGroup"]["Properties"]["SecurityGroupEgress"][0]["Description"] =
        json!("HTTPS to the application's APIs");
    let found = limits(&bad, "stack");
    let what: Vec<(String, u64)> = found["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| {
            (
                v["resource"].as_str().unwrap_or_default().to_string(),
                v["length"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        what,
        [
            ("ImagePushedRule".to_string(), 68),
            ("TaskSecurityGroup".to_string(), 31)
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// The stack deployed into the emulator
// ---------------------------------------------------------------------------------------------

const OFF_HOURS: (&str, &str) = ("OffHoursOnHours", "Mon-Fri 07:00-19:00");

#[tokio::test]
async fn the_stack_deploys_into_the_emulator_with_its_resources_configured() {
    let emu = template::emulator();
    let deployed = DeployedStack::deploy(&emu, &translate(), &[OFF_HOURS]);
    let p = &deployed.prerequisites;
    let registry = format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com");

    // Names and outputs as the Terraform module had them.
    assert_eq!(deployed.output("ClusterName"), CLUSTER);
    assert_eq!(deployed.output("ServiceName"), SERVICE);
    assert_eq!(
        deployed.output("EcrRepositoryUrl"),
        format!("{registry}/{REPOSITORY}")
    );
    assert_eq!(
        deployed.output("CloudWatchLogGroupName"),
        "/aws/ecs/autopilot-demo"
    );
    assert_eq!(
        deployed.output("NotificationTopicArn"),
        format!("arn:aws:sns:{REGION}:{ACCOUNT}:autopilot-demo-autopilot")
    );
    let info = deployed.output("DeploymentInfo");
    for needle in [
        SERVICE,
        CLUSTER,
        "512 CPU / 1024 MiB",
        "auto scaling 2-10 tasks",
        "Fargate",
    ] {
        assert!(info.contains(needle), "{needle} not in {info}");
    }
    let commands = deployed.output("UsefulCommands");
    for needle in [
        "docker login --username AWS --password-stdin 123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "docker push 123456789012.dkr.ecr.us-east-1.amazonaws.com/autopilot-demo:",
        "aws ecs wait services-stable --region us-east-1 --cluster autopilot-cluster-demo --services autopilot-service-demo",
        "aws logs tail /aws/ecs/autopilot-demo",
        "aws ecs execute-command --region us-east-1 --cluster autopilot-cluster-demo",
    ] {
        assert!(commands.contains(needle), "{needle} not in\n{commands}");
    }

    // The repository: release tags immutable but `latest` (scanning and encryption, which moto's
    // CloudFormation drops, are checked in the translated template).
    let repos = emu.json(
        "ecr",
        "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
        &json!({"repositoryNames": [REPOSITORY]}),
    );
    let repo = &repos["repositories"][0];
    assert_eq!(
        repo["imageTagMutability"], "IMMUTABLE_WITH_EXCLUSION",
        "{repo}"
    );
    assert_eq!(
        repo["imageTagMutabilityExclusionFilters"],
        json!([{"filterType": "WILDCARD", "filter": "latest"}]),
        "{repo}"
    );

    // The service in its cluster, on the stack's task definition.
    let ecs = aws_sdk_ecs::Client::new(&emu.sdk_config());
    let services = ecs
        .describe_services()
        .cluster(CLUSTER)
        .services(SERVICE)
        .send()
        .await
        .expect("DescribeServices");
    let service = &services.services()[0];
    assert_eq!(service.status(), Some("ACTIVE"));
    let td = ecs
        .describe_task_definition()
        .task_definition(service.task_definition().expect("task definition"))
        .send()
        .await
        .expect("DescribeTaskDefinition")
        .task_definition
        .expect("task definition");
    assert_eq!(td.family(), Some("autopilot-demo"));
    assert_eq!(td.memory(), Some("1024"));
    let app = &td.container_definitions()[0];
    assert_eq!(app.name(), Some("app"));
    assert_eq!(
        app.image(),
        Some(format!("{registry}/{REPOSITORY}:latest").as_str())
    );
    assert_eq!(app.user(), Some("1001"), "non-root");
    assert_eq!(app.readonly_root_filesystem(), Some(true));
    assert_eq!(app.mount_points()[0].container_path(), Some("/tmp"));
    assert_eq!(app.port_mappings()[0].container_port(), Some(3000));
    let env: BTreeMap<_, _> = app
        .environment()
        .iter()
        .map(|kv| {
            (
                kv.name().unwrap_or_default(),
                kv.value().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        env,
        BTreeMap::from([
            ("HOSTNAME", "0.0.0.0"),
            ("NEXTAUTH_URL", "https://app.example.com"),
            ("NODE_ENV", "production"),
            ("PORT", "3000"),
        ])
    );
    let secrets: BTreeMap<_, _> = app
        .secrets()
        .iter()
        .map(|s| (s.name().to_string(), s.value_from().to_string()))
        .collect();
    let arn = |k: &str| p.secrets[k].clone();
    let google = arn("GoogleOAuthSecretArn");
    assert_eq!(
        secrets,
        BTreeMap::from([
            ("ANTHROPIC_API_KEY".to_string(), arn("AnthropicSecretArn")),
            ("DATABASE_URL".to_string(), arn("DatabaseSecretArn")),
            ("ENCRYPTION_KEY".to_string(), arn("EncryptionKeySecretArn")),
            (
                "GOOGLE_CLIENT_ID".to_string(),
                format!("{google}:client_id::")
            ),
            (
                "GOOGLE_CLIENT_SECRET".to_string(),
                format!("{google}:client_secret::")
            ),
            ("NEXTAUTH_SECRET".to_string(), arn("NextAuthSecretArn")),
            ("REDIS_URL".to_string(), arn("RedisSecretArn")),
        ])
    );
    let logs = app.log_configuration().expect("log configuration");
    assert_eq!(logs.log_driver().as_str(), "awslogs");
    let options = logs.options().expect("awslogs options");
    assert_eq!(options["awslogs-group"], "/aws/ecs/autopilot-demo");
    assert_eq!(options["awslogs-region"], REGION);
    assert_eq!(options["awslogs-stream-prefix"], "ecs");
    let health = app.health_check().expect("health check");
    assert!(
        health.command().iter().any(|c| c.contains("/api/health")),
        "{health:?}"
    );

    // The tasks' security group lets in port 3000 from the load balancer only.
    let watcher = DeployedStack::function_env(&emu, "task-watcher");
    let network: Value =
        serde_json::from_str(&watcher["RESTART_NETWORK"]).expect("RESTART_NETWORK JSON");
    let task_sg = network["securityGroups"][0]
        .as_str()
        .expect("task security group");
    let sg = emu.ec2(&[("Action", "DescribeSecurityGroups"), ("GroupId.1", task_sg)]);
    let ingress = xml_value(&sg, "ipPermissions").unwrap_or_default();
    assert_eq!(ingress.matches("<fromPort>").count(), 1, "{sg}");
    assert!(
        ingress.contains("<fromPort>3000</fromPort>") && ingress.contains(&p.alb_security_group),
        "{sg}"
    );
    assert!(!ingress.contains("0.0.0.0/0"), "{sg}");

    // The log group and its retention (its key, which moto's CloudFormation drops, is checked in
    // the translated template).
    let groups = emu.json(
        "logs",
        "Logs_20140328.DescribeLogGroups",
        &json!({"logGroupNamePrefix": "/aws/ecs/autopilot-demo"}),
    );
    let group = &groups["logGroups"][0];
    assert_eq!(group["retentionInDays"], 30, "{group}");

    // The topic and the two dead-letter queues are encrypted with the stack's key.
    let sns = aws_sdk_sns::Client::new(&emu.sdk_config());
    let topic = sns
        .get_topic_attributes()
        .topic_arn(deployed.output("NotificationTopicArn"))
        .send()
        .await
        .expect("GetTopicAttributes");
    assert!(
        topic
            .attributes()
            .and_then(|a| a.get("KmsMasterKeyId"))
            .is_some(),
        "{topic:?}"
    );
    let sqs = aws_sdk_sqs::Client::new(&emu.sdk_config());
    for output in ["EventsDeadLetterQueueUrl", "FunctionsDeadLetterQueueUrl"] {
        let name = deployed
            .output(output)
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let url = sqs
            .get_queue_url()
            .queue_name(&name)
            .send()
            .await
            .expect("GetQueueUrl");
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(url.queue_url().unwrap_or_default())
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .expect("GetQueueAttributes");
        let attrs = attrs.attributes().expect("attributes");
        assert!(
            attrs.contains_key(&QueueAttributeName::KmsMasterKeyId),
            "{output}"
        );
        assert_eq!(
            attrs
                .get(&QueueAttributeName::MessageRetentionPeriod)
                .map(String::as_str),
            Some("1209600"),
            "{output}"
        );
    }
}

fn props<'a>(t: &'a Value, id: &str) -> &'a Value {
    &resources(t)
        .get(id)
        .unwrap_or_else(|| panic!("no resource {id}"))["Properties"]
}

/// moto's CloudFormation keeps only the names of a cluster and a service (and a task definition's
/// family, containers, volumes and memory), the ingress rules of a security group, and of a
/// repository neither scanning, encryption nor lifecycle policy: the rest is checked here, as
/// CloudFormation will receive it.
#[test]
fn what_the_emulators_cloudformation_drops_is_right_in_the_translated_template() {
    let t = translate();
    let cluster = props(&t, "Cluster");
    assert_eq!(
        cluster["CapacityProviders"],
        json!(["FARGATE", "FARGATE_SPOT"])
    );
    assert_eq!(
        cluster["ClusterSettings"],
        json!([{"Name": "containerInsights", "Value": {"Fn::If": ["InsightsOn", "enabled", "disabled"]}}])
    );

    let td = props(&t, "TaskDefinition");
    assert_eq!(td["RequiresCompatibilities"], json!(["FARGATE"]));
    assert_eq!(td["NetworkMode"], "awsvpc");
    assert_eq!(
        (&td["Cpu"], &td["Memory"]),
        (&json!({"Ref": "TaskCpu"}), &json!({"Ref": "TaskMemory"}))
    );
    assert_eq!(
        (&td["ExecutionRoleArn"], &td["TaskRoleArn"]),
        (
            &json!({"Ref": "EcsExecutionRoleArn"}),
            &json!({"Ref": "EcsTaskRoleArn"})
        )
    );
    let secrets = td["ContainerDefinitions"][0]["Secrets"]
        .as_array()
        .expect("secrets");
    assert_eq!(
        secrets.last(),
        Some(&json!({"Fn::If": ["HasRedisSecret",
            {"Name": "REDIS_URL", "ValueFrom": {"Ref": "RedisSecretArn"}}, {"Ref": "AWS::NoValue"}]})),
        "REDIS_URL only when RedisSecretArn is given"
    );

    let service = props(&t, "Service");
    assert_eq!(
        service["NetworkConfiguration"]["AwsvpcConfiguration"],
        json!({"Subnets": {"Ref": "PrivateSubnetIds"}, "SecurityGroups": [{"Ref": "TaskSecurityGroup"}],
               "AssignPublicIp": "DISABLED"})
    );
    assert_eq!(
        service["LoadBalancers"],
        json!([{"ContainerName": "app", "ContainerPort": 3000, "TargetGroupArn": {"Ref": "TargetGroupArn"}}])
    );
    assert_eq!(
        service["DeploymentConfiguration"],
        json!({"MinimumHealthyPercent": 100, "MaximumPercent": 200,
               "DeploymentCircuitBreaker": {"Enable": true, "Rollback": true}})
    );
    assert_eq!(
        service["CapacityProviderStrategy"],
        json!([{"CapacityProvider": {"Fn::If": ["SpotOn", "FARGATE_SPOT", "FARGATE"]}, "Weight": 1}])
    );
    assert_eq!(service["EnableECSManagedTags"], true);
    assert_eq!(service["PropagateTags"], "SERVICE");
    assert_eq!(
        service["HealthCheckGracePeriodSeconds"],
        json!({"Ref": "HealthCheckGracePeriodSeconds"})
    );
    assert_eq!(
        service["EnableExecuteCommand"],
        json!({"Fn::If": ["ExecOn", true, false]})
    );

    // Egress: HTTPS only, plus the database and Redis groups when given.
    assert_eq!(
        props(&t, "TaskSecurityGroup")["SecurityGroupEgress"],
        json!([{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0",
                "Description": "HTTPS to ECR, Secrets Manager, CloudWatch Logs and the APIs the application calls"}])
    );
    for (id, condition, group) in [
        (
            "TaskToDatabaseEgress",
            "HasDatabaseSg",
            "DatabaseSecurityGroupId",
        ),
        ("TaskToRedisEgress", "HasRedisSg", "RedisSecurityGroupId"),
    ] {
        assert_eq!(resources(&t)[id]["Condition"], condition);
        assert_eq!(
            props(&t, id)["DestinationSecurityGroupId"],
            json!({"Ref": group})
        );
    }

    for (id, group) in of_type(&t, "AWS::Logs::LogGroup") {
        let expected = if id == "LogGroup" {
            json!({"Fn::If": ["HasLogKmsKey", {"Ref": "LogKmsKeyArn"}, {"Fn::GetAtt": ["Key", "Arn"]}]})
        } else {
            json!({"Fn::GetAtt": ["Key", "Arn"]})
        };
        assert_eq!(group["Properties"]["KmsKeyId"], expected, "{id}");
        assert_eq!(
            group["Properties"]["RetentionInDays"],
            json!({"Ref": "LogRetentionDays"}),
            "{id}"
        );
    }
    let repository = props(&t, "Repository");
    assert_eq!(
        repository["ImageScanningConfiguration"],
        json!({"ScanOnPush": true})
    );
    assert_eq!(
        repository["EncryptionConfiguration"],
        json!({"EncryptionType": "KMS"})
    );
    // The lifecycle policy: untagged images expire after 7 days, the newest N tagged are kept.
    let text = props(&t, "Repository")["LifecyclePolicy"]["LifecyclePolicyText"]["Fn::Sub"]
        .as_str()
        .expect("lifecycle policy text")
        .replace("${ImagesToKeep}", "30");
    let policy: Value = serde_json::from_str(&text).expect("lifecycle policy JSON");
    let rules = policy["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), 2);
    assert_eq!(
        rules[0]["selection"],
        json!({"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7})
    );
    assert_eq!(
        rules[1]["selection"],
        json!({"tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan", "countNumber": 30})
    );
}

#[tokio::test]
async fn the_functions_and_their_rules_are_wired_to_the_stack() {
    let emu = template::emulator();
    let deployed = DeployedStack::deploy(&emu, &translate(), &[OFF_HOURS]);
    let topic = deployed.output("NotificationTopicArn").to_string();
    let mut function_arns = BTreeMap::new();
    for (binary, _) in FUNCTIONS {
        let f = DeployedStack::function(&emu, binary);
        let c = &f["Configuration"];
        assert_eq!(c["Runtime"], "provided.al2023", "{binary}");
        assert_eq!(c["Handler"], "bootstrap", "{binary}");
        assert_eq!(c["MemorySize"], 128, "{binary}");
        let env = DeployedStack::function_env(&emu, binary);
        assert_eq!(env.get("NOTIFY_TOPIC_ARN"), Some(&topic), "{binary}");
        function_arns.insert(
            binary,
            c["FunctionArn"].as_str().unwrap_or_default().to_string(),
        );
    }
    let deployer = DeployedStack::function_env(&emu, "deployer");
    let targets: Value =
        serde_json::from_str(&deployer["DEPLOY_TARGETS"]).expect("DEPLOY_TARGETS JSON");
    assert_eq!(
        targets,
        json!([{"repository": REPOSITORY, "tags": ["*"], "cluster": CLUSTER, "service": SERVICE,
                "container": "app", "strategy": "pin-digest"}])
    );
    let watcher = DeployedStack::function_env(&emu, "task-watcher");
    let network: Value =
        serde_json::from_str(&watcher["RESTART_NETWORK"]).expect("RESTART_NETWORK JSON");
    assert_eq!(network["subnets"], json!(deployed.prerequisites.subnets));
    assert_eq!(network["assignPublicIp"], false);
    let off = DeployedStack::function_env(&emu, "off-hours");
    assert_eq!(off["ON_HOURS"], OFF_HOURS.1);
    assert_eq!(
        serde_json::from_str::<Value>(&off["TARGETS"]).expect("TARGETS JSON"),
        json!([{"cluster": CLUSTER, "service": SERVICE}])
    );
    // Other services of the stack's cluster opt in by tag (SELECT_TAG's default).
    assert_eq!(off["CLUSTERS"], CLUSTER);
    assert!(!off.contains_key("SELECT_TAG"), "{off:?}");

    let rules = DeployedStack::rules(&emu);
    let by_suffix = |suffix: &str| -> &Rule {
        rules
            .iter()
            .find(|r| r.name.ends_with(suffix))
            .unwrap_or_else(|| panic!("no rule *{suffix}: {rules:?}"))
    };
    // The deployer's and the task-watcher's rules send to their FIFO queue (one message group
    // each), which an event source mapping reads for the function; the others invoke theirs.
    let mappings = emu.rest("lambda", "GET", "/2015-03-31/event-source-mappings/");
    let reads = |queue_arn: &str| -> Option<String> {
        mappings["EventSourceMappings"]
            .as_array()?
            .iter()
            .find(|m| m["EventSourceArn"] == queue_arn)
            .and_then(|m| m["FunctionArn"].as_str().map(str::to_string))
    };
    for (suffix, binary, queue) in [
        (
            "push",
            "deployer",
            Some("autopilot-demo-autopilot-deployer.fifo"),
        ),
        (
            "deploys",
            "deployer",
            Some("autopilot-demo-autopilot-deployer.fifo"),
        ),
        (
            "stops",
            "task-watcher",
            Some("autopilot-demo-autopilot-task-watcher.fifo"),
        ),
        ("alarms", "alarm-notifier", None),
        (
            "ticks",
            "off-hours",
            Some("autopilot-demo-autopilot-off-hours.fifo"),
        ),
    ] {
        let rule = by_suffix(suffix);
        let [target] = rule.targets.as_slice() else {
            panic!("{}: one target, got {:?}", rule.name, rule.targets);
        };
        let arn = target["Arn"].as_str().unwrap_or_default();
        match queue {
            Some(queue) => {
                assert_eq!(
                    arn,
                    format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"),
                    "{}",
                    rule.name
                );
                assert_eq!(
                    target["SqsParameters"]["MessageGroupId"], binary,
                    "{}",
                    rule.name
                );
                assert_eq!(
                    reads(arn).as_deref(),
                    Some(function_arns[binary].as_str()),
                    "{queue}"
                );
            }
            None => assert_eq!(arn, function_arns[binary], "{}", rule.name),
        }
    }
    assert_eq!(rules.len(), 5, "{rules:?}");
    assert_eq!(
        by_suffix("ticks").schedule.as_deref(),
        Some("cron(0/15 * * * ? *)")
    );

    // Without OffHoursOnHours there is no off-hours function and no schedule.
    let emu = template::emulator();
    DeployedStack::deploy(&emu, &translate(), &[]);
    let functions = emu.rest("lambda", "GET", "/2015-03-31/functions/");
    let names: Vec<_> = functions["Functions"]
        .as_array()
        .expect("functions")
        .iter()
        .map(|f| f["FunctionName"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(!names.contains(&function_name("off-hours")));
    assert!(DeployedStack::rules(&emu)
        .iter()
        .all(|r| r.schedule.is_none()));
}

/// A sample event of `events/`, pointed at the deployed stack's names (its cluster, service
/// and repository; the alarm samples are already named `autopilot-demo-*`).
fn for_stack(sample: &str) -> Value {
    let mut e = sample_event(sample);
    let service_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{SERVICE}");
    match e["detail-type"].as_str().unwrap_or_default() {
        "ECR Image Action" => e["detail"]["repository-name"] = json!(REPOSITORY),
        "ECS Deployment State Change" => e["resources"] = json!([service_arn]),
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

/// A probe per rule with a pattern: the deployed pattern, as EventBridge holds it, with a queue
/// as target, on a bus of its own (the emulator cannot invoke the stack's functions, the real
/// targets). Returns the SQS client and each probe's queue URL by the rule's suffix
/// (`image-pushed`...).
async fn probe_rules(
    emu: &Emulator,
    rules: &[Rule],
) -> (aws_sdk_sqs::Client, BTreeMap<String, String>) {
    let sqs = aws_sdk_sqs::Client::new(&emu.sdk_config());
    emu.json(
        "events",
        "AWSEvents.CreateEventBus",
        &json!({"Name": "probes"}),
    );
    let mut probes = BTreeMap::new();
    for rule in rules {
        let Some(pattern) = &rule.pattern else {
            continue;
        };
        let suffix = rule
            .name
            .rsplit("autopilot-")
            .next()
            .unwrap_or_default()
            .to_string();
        let queue = format!("probe-{suffix}");
        let url = sqs
            .create_queue()
            .queue_name(&queue)
            .send()
            .await
            .expect("CreateQueue")
            .queue_url
            .expect("queue URL");
        emu.json(
            "events",
            "AWSEvents.PutRule",
            &json!({"Name": queue, "EventBusName": "probes", "EventPattern": pattern.to_string()}),
        );
        emu.json(
            "events",
            "AWSEvents.PutTargets",
            &json!({"Rule": queue, "EventBusName": "probes", "Targets": [{"Id": "probe",
                    "Arn": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}")}]}),
        );
        probes.insert(suffix, url);
    }
    (sqs, probes)
}

/// Puts each event on the probes' bus and checks which probe got it: `expected` (a rule's
/// suffix) or none.
async fn check_routes(
    emu: &Emulator,
    sqs: &aws_sdk_sqs::Client,
    probes: &BTreeMap<String, String>,
    cases: &[(String, Value, Option<&str>)],
) {
    for (name, event, expected) in cases {
        let entry = json!({
            "Source": event["source"], "DetailType": event["detail-type"],
            "Detail": event["detail"].to_string(), "Resources": event["resources"],
            "EventBusName": "probes",
        });
        let put = emu.json(
            "events",
            "AWSEvents.PutEvents",
            &json!({"Entries": [entry]}),
        );
        assert_eq!(put["FailedEntryCount"], 0, "{name}: {put}");
        for (suffix, url) in probes {
            let got = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(if Some(suffix.as_str()) == *expected {
                    2
                } else {
                    0
                })
                .send()
                .await
                .expect("ReceiveMessage");
            let n = got.messages().len();
            for m in got.messages() {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("DeleteMessage");
            }
            let want = usize::from(Some(suffix.as_str()) == *expected);
            assert_eq!(
                n, want,
                "{name}: rule {suffix} got {n} events, expected {want}"
            );
        }
    }
}

#[tokio::test]
async fn a_push_reaches_the_deployers_fifo_queue_in_its_group_and_a_redelivery_is_dropped() {
    let emu = template::emulator();
    DeployedStack::deploy(&emu, &translate(), &[]);
    let sqs = aws_sdk_sqs::Client::new(&emu.sdk_config());
    let url = sqs
        .get_queue_url()
        .queue_name("autopilot-demo-autopilot-deployer.fifo")
        .send()
        .await
        .expect("the deployer's queue")
        .queue_url
        .expect("URL");
    let push = for_stack("deployer/ecr-push-release-tag.json");
    let put = emu.json(
        "events",
        "AWSEvents.PutEvents",
        &json!({"Entries": [{"Source": push["source"], "DetailType": push["detail-type"],
                "Detail": push["detail"].to_string(), "Resources": push["resources"]}]}),
    );
    assert_eq!(put["FailedEntryCount"], 0, "{put}");
    let receive = || async {
        sqs.receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId,
            )
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage")
            .messages
            .unwrap_or_default()
    };
    let got = receive().await;
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    let body: Value = serde_json::from_str(m.body().unwrap_or_default()).expect("the event");
    assert_eq!(body["detail"]["image-tag"], push["detail"]["image-tag"]);
    assert_eq!(
        m.attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId))
            .map(String::as_str),
        Some("deployer")
    );
    // EventBridge delivers at least once: the same event again (same id, same body) within
    // five minutes is dropped by the queue's content-based deduplication. (SQS drops it even
    // after the first was deleted; moto only while the first is still in the queue, so the
    // redelivery comes while the deployer holds the first.)
    sqs.send_message()
        .queue_url(&url)
        .message_group_id("deployer")
        .message_body(m.body().unwrap_or_default())
        .send()
        .await
        .expect("SendMessage");
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(m.receipt_handle().unwrap_or_default())
        .send()
        .await
        .expect("DeleteMessage");
    assert_eq!(
        receive().await.len(),
        0,
        "the redelivery reaches the deployer"
    );
}

#[tokio::test]
async fn each_rule_matches_its_functions_samples_and_rejects_near_misses() {
    let emu = template::emulator();
    DeployedStack::deploy(&emu, &translate(), &[OFF_HOURS]);
    let (sqs, probes) = probe_rules(&emu, &DeployedStack::rules(&emu)).await;
    assert_eq!(
        probes.keys().collect::<Vec<_>>(),
        ["alarms", "deploys", "push", "stops"]
    );

    let mut cases: Vec<(String, Value, Option<&str>)> = vec![];
    let samples = |dir: &str| -> Vec<String> {
        let mut names: Vec<_> =
            std::fs::read_dir(integration_tests::workspace_root().join("events").join(dir))
                .expect("events folder")
                .filter_map(|e| e.ok())
                .map(|e| format!("{dir}/{}", e.file_name().to_string_lossy()))
                // The sqs-* samples are what a FIFO queue hands a function, after the rule.
                .filter(|n| !n.contains("/sqs-"))
                .collect();
        names.sort();
        names
    };
    for name in samples("deployer") {
        let e = for_stack(&name);
        let expected = match e["detail-type"].as_str() {
            Some("ECR Image Action") => {
                let d = &e["detail"];
                (d["action-type"] == "PUSH" && d["result"] == "SUCCESS").then_some("push")
            }
            _ => Some("deploys"),
        };
        cases.push((name, e, expected));
    }
    for name in samples("task-watcher") {
        cases.push((name.clone(), for_stack(&name), Some("stops")));
    }
    // The sns-* samples arrive through an SNS subscription, not through a rule.
    for name in samples("alarm-notifier")
        .into_iter()
        .filter(|n| !n.contains("/sns-"))
    {
        cases.push((name.clone(), for_stack(&name), Some("alarms")));
    }
    // Near misses: each must reach no function.
    let mut other_repo = for_stack("deployer/ecr-push-release-tag.json");
    other_repo["detail"]["repository-name"] = json!("autopilot-demo-worker");
    cases.push(("another repository".into(), other_repo, None));
    let mut other_service = for_stack("deployer/ecs-deployment-completed.json");
    other_service["resources"] = json!([format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/worker"
    )]);
    cases.push(("another service's deployment".into(), other_service, None));
    let mut running = for_stack("task-watcher/out-of-memory.json");
    running["detail"]["lastStatus"] = json!("RUNNING");
    running["detail"]["desiredStatus"] = json!("RUNNING");
    running["detail"]
        .as_object_mut()
        .map(|d| d.remove("stopCode"));
    // The Fargate Spot warning: the task still runs, its stop code says why it will stop.
    for code in ["SpotInterruption", "TerminationNotice"] {
        let mut warning = running.clone();
        warning["detail"]["stopCode"] = json!(code);
        warning["detail"]["desiredStatus"] = json!("STOPPED");
        cases.push((
            format!("a running task's {code} warning"),
            warning,
            Some("stops"),
        ));
    }
    cases.push((
        "a RUNNING task without a termination notice".into(),
        running,
        None,
    ));
    cases.push((
        "another cluster's task".into(),
        sample_event("task-watcher/out-of-memory.json"),
        None,
    ));
    let mut other_alarm = sample_event("alarm-notifier/cpu-alarm.json");
    other_alarm["detail"]["alarmName"] = json!("billing-prod-cpu-high");
    other_alarm["resources"] = json!([format!(
        "arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:billing-prod-cpu-high"
    )]);
    cases.push(("another stack's alarm".into(), other_alarm, None));
    let mut own_alarm = sample_event("alarm-notifier/cpu-alarm.json");
    own_alarm["detail"]["alarmName"] = json!("autopilot-autopilot-demo-deployer-errors");
    cases.push(("the autopilot's own alarm".into(), own_alarm, None));

    check_routes(&emu, &sqs, &probes, &cases).await;
    assert!(cases.len() > 30, "{}", cases.len());
}

#[tokio::test]
async fn fleet_mode_beside_the_ecs_stack_deploys_with_tag_selection() {
    let emu = template::emulator();
    let deployed = DeployedStack::deploy(&emu, &translate(), &[("Scope", "account"), OFF_HOURS]);
    assert_eq!(deployed.output("Scope"), "account");
    assert!(deployed.outputs.contains_key("ClusterName"));
    let deployer = DeployedStack::function_env(&emu, "deployer");
    assert_eq!(deployer.get("FLEET").map(String::as_str), Some("true"));
    assert!(!deployer.contains_key("DEPLOY_TARGETS"));
    // The stack's own rules follow the account, not only the stack.
    let image = DeployedStack::rules(&emu)
        .into_iter()
        .find(|r| r.name.ends_with("-push"))
        .and_then(|r| r.pattern)
        .expect("the image rule");
    assert!(image["detail"].get("repository-name").is_none(), "{image}");
}

#[tokio::test]
async fn the_autopilot_alone_in_fleet_mode_deploys_and_its_rules_take_any_cluster_and_repository() {
    let emu = template::emulator();
    let t = translate();
    // No network, roles or secrets: nothing of the ECS stack is asked for.
    let parameters: Vec<(String, String)> = [
        ("ProjectName", template::PROJECT),
        ("Environment", template::ENVIRONMENT),
        ("Scope", "account"),
        ("CreateEcsStack", "false"),
        OFF_HOURS,
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let outputs = template::create_stack(&emu, &t, template::STACK_NAME, &parameters);
    assert_eq!(outputs.get("Scope").map(String::as_str), Some("account"));
    assert!(!outputs.contains_key("ClusterName"), "{outputs:?}");
    let ecs = aws_sdk_ecs::Client::new(&emu.sdk_config());
    let clusters = ecs.list_clusters().send().await.expect("ListClusters");
    assert!(clusters.cluster_arns().is_empty(), "{clusters:?}");

    // The functions select by tags, and each builds its configuration from what it was given.
    let env = |binary: &str| DeployedStack::function_env(&emu, binary);
    let deployer = env("deployer");
    assert_eq!(deployer.get("FLEET").map(String::as_str), Some("true"));
    assert!(!deployer.contains_key("DEPLOY_TARGETS"), "{deployer:?}");
    let off = env("off-hours");
    assert_eq!(
        off.get("SELECT_TAG").map(String::as_str),
        Some("autopilot:off-hours=enabled")
    );
    assert!(
        !off.contains_key("TARGETS") && !off.contains_key("CLUSTERS"),
        "{off:?}"
    );
    assert!(!env("task-watcher").contains_key("RESTART_NETWORK"));
    for (binary, _) in FUNCTIONS {
        let read = read_config(binary, &env(binary))
            .unwrap_or_else(|e| panic!("{binary} does not start in fleet mode: {e}"));
        for var in env(binary).keys() {
            assert!(
                read.contains(var.as_str()),
                "{binary}: {var} set, never read"
            );
        }
    }

    // Its rules take events from any cluster, service, repository and alarm.
    let (sqs, probes) = probe_rules(&emu, &DeployedStack::rules(&emu)).await;
    assert_eq!(probes.len(), 4, "{probes:?}");
    let mut push = sample_event("deployer/ecr-push-release-tag.json");
    push["detail"]["repository-name"] = json!("billing/api");
    let mut failed_push = push.clone();
    failed_push["detail"]["result"] = json!("FAILURE");
    let mut deployment = sample_event("deployer/ecs-deployment-completed.json");
    deployment["resources"] = json!([format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:service/billing-prod/api"
    )]);
    let mut stop = sample_event("task-watcher/out-of-memory.json");
    stop["detail"]["clusterArn"] = json!(format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/billing-prod"
    ));
    let mut running = stop.clone();
    running["detail"]["lastStatus"] = json!("RUNNING");
    running["detail"]
        .as_object_mut()
        .map(|d| d.remove("stopCode"));
    let mut alarm = sample_event("alarm-notifier/cpu-alarm.json");
    alarm["detail"]["alarmName"] = json!("billing-prod-cpu-high");
    let mut own_alarm = alarm.clone();
    own_alarm["detail"]["alarmName"] = json!("autopilot-autopilot-demo-deployer-errors");
    let cases: Vec<(String, Value, Option<&str>)> = vec![
        ("a push to any repository".into(), push, Some("push")),
        ("a failed push".into(), failed_push, None),
        (
            "any service's deployment".into(),
            deployment,
            Some("deploys"),
        ),
        ("any cluster's stopped task".into(), stop, Some("stops")),
        ("a running task".into(), running, None),
        ("any alarm".into(), alarm, Some("alarms")),
        ("the autopilot's own alarm".into(), own_alarm, None),
    ];
    check_routes(&emu, &sqs, &probes, &cases).await;
}

// ---------------------------------------------------------------------------------------------
// Environment: the template sets exactly what each function reads
// ---------------------------------------------------------------------------------------------

/// Builds the function's configuration from `env`; returns the variables it read, or the error.
fn read_config(
    binary: &str,
    env: &BTreeMap<String, String>,
) -> Result<BTreeSet<&'static str>, String> {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let source = Env::from_pairs(&pairs);
    let built = match binary {
        "deployer" => DeployerConfig::from(&source).map(|_| ()),
        "task-watcher" => TaskWatcherConfig::from(&source).map(|_| ()),
        "alarm-notifier" => AlarmNotifierConfig::from(&source).map(|_| ()),
        "off-hours" => OffHoursConfig::from(&source).map(|_| ()),
        other => panic!("unknown function {other}"),
    };
    built
        .map(|()| source.names_read())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn each_function_reads_every_variable_the_template_sets_and_needs_no_other() {
    let emu = template::emulator();
    DeployedStack::deploy(&emu, &translate(), &[OFF_HOURS]);
    for (binary, _) in FUNCTIONS {
        let env = DeployedStack::function_env(&emu, binary);
        let read = read_config(binary, &env).unwrap_or_else(|e| {
            panic!("{binary} does not start with the template's environment: {e}")
        });
        for var in env.keys() {
            assert!(
                read.contains(var.as_str()),
                "{binary}: the template sets {var}, which its configuration never reads ({read:?})"
            );
        }
        assert!(!read.is_empty(), "{binary}");
    }
}

#[tokio::test]
async fn each_release_binary_starts_and_handles_an_event_with_the_templates_environment() {
    let emu = template::emulator();
    let deployed = DeployedStack::deploy(&emu, &translate(), &[OFF_HOURS]);
    let stack = deployed.as_stack(&emu).await;
    stack
        .put_cpu_alarm("autopilot-demo-web-cpu-high", SERVICE, &[])
        .await;
    for (binary, event) in [
        ("deployer", for_stack("deployer/ecr-push-release-tag.json")),
        ("task-watcher", for_stack("task-watcher/scaling.json")),
        ("alarm-notifier", for_stack("alarm-notifier/cpu-alarm.json")),
        ("off-hours", sample_event("off-hours/scheduled-event.json")),
    ] {
        let mut env: Vec<(String, String)> = DeployedStack::function_env(&emu, binary)
            .into_iter()
            .collect();
        env.extend(emu.env());
        let run = run_function(
            &release_binary(binary),
            &function_name(binary),
            &env,
            vec![event],
            Duration::from_secs(60),
        );
        assert!(
            run.init_error.is_none(),
            "{binary}: {:?}\n{}",
            run.init_error,
            run.output
        );
        assert!(
            run.invocations.first().and_then(|i| i.ok()).is_some(),
            "{binary}: {:?}\n{}",
            run.invocations,
            run.output
        );
    }
    let published = stack.notifications().await;
    assert!(
        published.iter().any(|n| n["source"] == "custom"),
        "the functions published to the stack's topic: {published:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// IAM: the shape of the roles' statements. Each call the functions make, by action, resource
// and condition, and nothing more, is checked by the tours of tests/iam.rs in both scopes.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_wildcard_resource_only_where_the_action_takes_nothing_narrower() {
    // From the Service Authorization Reference: these actions support no resource-level
    // permissions (or, for ListTasks and RegisterScalableTarget, none known before the call);
    // ListTasks and ListServices are held to a cluster by the ecs:cluster condition key.
    let no_resource_types = [
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "ecs:ListTaskDefinitions",
        "ecs:ListTasks",
        "ecs:ListServices",
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:RegisterScalableTarget",
        "tag:GetResources",
    ];
    let must_be_conditioned = [
        "ecs:ListTasks",
        "ecs:ListServices",
        "application-autoscaling:RegisterScalableTarget",
    ];
    let t = translate();
    for (scope, (_, function)) in ["stack", "account"]
        .into_iter()
        .flat_map(|scope| FUNCTIONS.map(|f| (scope, f)))
    {
        for s in role_statements_in(&t, function, scope) {
            if s["Resource"] == "*" {
                for a in actions(&s) {
                    assert!(
                        no_resource_types.contains(&a.as_str()),
                        "{function}: {a} on *"
                    );
                    if must_be_conditioned.contains(&a.as_str()) {
                        assert!(
                            s["Condition"].is_object(),
                            "{function}: {a} on * without a condition"
                        );
                    }
                }
            }
            for a in actions(&s) {
                if a == "iam:PassRole" {
                    assert_eq!(
                        s["Condition"],
                        json!({"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
                        "{function}"
                    );
                    // Fleet mode: each service has its own task roles, passed only to ECS tasks.
                    let roles = if scope == "stack" {
                        json!([{"Ref": "EcsExecutionRoleArn"}, {"Ref": "EcsTaskRoleArn"}])
                    } else {
                        json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"})
                    };
                    assert_eq!(s["Resource"], roles, "{function} ({scope}): the task roles");
                }
            }
        }
    }
}
