//! The translated template: what the emulator's CloudFormation drops or only pretends to create

use super::*;

/// The FIFO queue whose event source mapping feeds `function` one message at a time, when
/// every rule that targets that queue sends to one message group: Lambda then invokes the
/// function for one message of the group at a time ("Using Lambda with Amazon SQS", FIFO
/// queues), the serialisation reserved concurrency of 1 gave.
pub(super) fn serialised_by(t: &Value, function: &str) -> Option<String> {
    let r = resources(t);
    // Off-hours also reads a standard queue in organization mode (each member account's tick).
    let mapping = r.values().find(|m| {
        m["Type"] == "AWS::Lambda::EventSourceMapping"
            && m["Properties"]["FunctionName"] == json!({"Ref": function})
            && m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
                .as_str()
                .is_some_and(|q| r[q]["Properties"]["FifoQueue"] == true)
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

pub(super) fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().expect("Resources")
}

pub(super) fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
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
        8,
        "6 function error alarms and 2 queue alarms: {own:?}"
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
    for binary in [
        "Deployer",
        "TaskWatcher",
        "AlarmNotifier",
        "OffHours",
        "DeployGate",
    ] {
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
pub(super) fn eval(e: &Value, params: &BTreeMap<&str, String>, t: &Value) -> Value {
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
        "Condition" => {
            let name = args.as_str().expect("Condition name");
            eval(&t["Conditions"][name], params, t)
        }
        other => panic!("a Rules function the test does not evaluate: {other}"),
    }
}

/// The template's conditions for some parameters (the others at their defaults), evaluated as
/// the rules are.
pub(super) struct Conditions<'a> {
    t: &'a Value,
    params: BTreeMap<&'a str, String>,
}

impl<'a> Conditions<'a> {
    pub(super) fn of(t: &'a Value, pairs: &[(&'a str, &str)]) -> Self {
        Conditions {
            t,
            params: pairs.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        }
    }

    pub(super) fn holds(&self, name: &str) -> bool {
        let condition = &self.t["Conditions"][name];
        assert!(!condition.is_null(), "no condition {name}");
        eval(condition, &self.params, self.t) == json!(true)
    }

    /// `v` with each `Fn::If` resolved and `AWS::NoValue` removed (`null` when `v` is it).
    pub(super) fn resolve(&self, v: &Value) -> Value {
        integration_tests::iam::pick_branches(v, &|c| self.holds(c)).unwrap_or(Value::Null)
    }
}

/// Whether every rule of the template holds for these values.
pub(super) fn rules_hold(t: &Value, params: &BTreeMap<&str, String>) -> bool {
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
pub(super) fn fargate_accepts(cpu: u32, memory: u32) -> bool {
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
pub(super) fn ecs_inputs() -> BTreeMap<&'static str, String> {
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
pub(super) fn python_tool(script: &str, args: &[&str]) -> Value {
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
pub(super) fn sam_deploy_parameters(
    sam_dir: &std::path::Path,
    args: &[&str],
) -> BTreeMap<String, String> {
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
pub(super) fn refused(t: &Value, params: &BTreeMap<String, String>) -> Vec<String> {
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
pub(super) fn sam_dir_as_a_user_fills_it() -> std::path::PathBuf {
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
pub(super) fn readme_first_deploy() -> Vec<Vec<String>> {
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
pub(super) fn shell_words(line: &str) -> Vec<String> {
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
    let sent = sam_deploy_accepted(block);
    assert_eq!(sent["OffHoursOnHours"], "Mon-Fri 07:00-19:00", "{sent:?}");
}

/// The parameters the `sam deploy` of a documented `sh` block sends, resolved by the SAM CLI's
/// own code (`--guided` left out), after checking that the template's Rules accept them over
/// its defaults.
pub(super) fn sam_deploy_accepted(block: &str) -> BTreeMap<String, String> {
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
    let _ = std::fs::remove_dir_all(&dir);
    let mut stack: BTreeMap<String, String> = BTreeMap::new();
    for (k, p) in t["Parameters"].as_object().expect("Parameters") {
        if let Some(d) = p.get("Default") {
            stack.insert(k.clone(), d.as_str().map_or(d.to_string(), str::to_string));
        }
    }
    stack.extend(sent.clone());
    assert_eq!(refused(&t, &stack), Vec::<String>::new(), "{stack:?}");
    sent
}

/// The gated strategies, as the translated template hands them to ECS for each
/// `DeploymentStrategy` (moto drops `deploymentConfiguration.strategy` and the lifecycle hooks,
/// so the translated template is where they are checked): the strategy and its step settings,
/// the gate at the three judged stages with its invoke role, the pause hook when asked for, the
/// load balancer's second target group and rules with the role ECS moves them with, and the
/// circuit breaker only for rolling.
#[test]
fn each_deployment_strategy_configures_the_service_and_its_gate() {
    let t = translate();
    let service = &resources(&t)["Service"]["Properties"];
    let lb = [
        ("AlternateTargetGroupArn", "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/73e2d6bc24d8a067"),
        ("ProductionListenerRuleArn", "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"),
    ];
    let config = |pairs: &[(&'static str, &str)]| {
        let c = Conditions::of(&t, pairs);
        (
            c.resolve(&service["DeploymentConfiguration"]),
            c.resolve(&service["LoadBalancers"][0]),
            c,
        )
    };

    let (rolling, lb_rolling, c) = config(&[]);
    assert_eq!(
        rolling["DeploymentCircuitBreaker"],
        json!({"Enable": true, "Rollback": true})
    );
    for absent in [
        "LifecycleHooks",
        "BakeTimeInMinutes",
        "LinearConfiguration",
        "CanaryConfiguration",
    ] {
        assert!(
            rolling.get(absent).is_none(),
            "rolling has no {absent}: {rolling}"
        );
    }
    assert!(lb_rolling.get("AdvancedConfiguration").is_none());
    assert!(!c.holds("Gated"), "no load balancer role, no hooks");

    for strategy in ["BLUE_GREEN", "LINEAR", "CANARY"] {
        let mut pairs = vec![("DeploymentStrategy", strategy)];
        pairs.extend(lb);
        let (d, lb_gated, c) = config(&pairs);
        assert!(c.holds("Gated"), "{strategy}");
        assert_eq!(d["Strategy"], json!({"Ref": "DeploymentStrategy"}));
        assert!(
            d.get("DeploymentCircuitBreaker").is_none(),
            "{strategy}: the gate rolls back, not the breaker"
        );
        assert_eq!(d["BakeTimeInMinutes"], json!({"Ref": "BakeTimeMinutes"}));
        assert_eq!(
            d["LifecycleHooks"],
            json!([{
                "TargetType": "AWS_LAMBDA",
                "HookTargetArn": {"Fn::GetAtt": ["DeployGateFunction", "Arn"]},
                "RoleArn": {"Fn::GetAtt": ["HookInvokeRole", "Arn"]},
                "LifecycleStages": ["POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"],
                "TimeoutConfiguration": {"TimeoutInMinutes": {"Ref": "GateHookTimeoutMinutes"}, "Action": "ROLLBACK"}
            }]),
            "{strategy}: the gate alone, no pause unless asked for"
        );
        assert_eq!(
            lb_gated["AdvancedConfiguration"],
            json!({"AlternateTargetGroupArn": {"Ref": "AlternateTargetGroupArn"},
                   "ProductionListenerRule": {"Ref": "ProductionListenerRuleArn"},
                   "RoleArn": {"Fn::GetAtt": ["LoadBalancerRole", "Arn"]}}),
            "{strategy}: no test listener rule unless given"
        );
        assert_eq!(
            d.get("LinearConfiguration").is_some(),
            strategy == "LINEAR",
            "{strategy}"
        );
        assert_eq!(
            d.get("CanaryConfiguration").is_some(),
            strategy == "CANARY",
            "{strategy}"
        );
    }

    let mut pairs = vec![
        ("DeploymentStrategy", "LINEAR"),
        ("ApprovalStage", "POST_TEST_TRAFFIC_SHIFT"),
        ("TestListenerRuleArn", "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web/50dc6c495c0c9188/aaaa/bbbb"),
    ];
    pairs.extend(lb);
    let (d, lb_gated, _) = config(&pairs);
    assert_eq!(
        d["LinearConfiguration"],
        json!({"StepPercent": {"Ref": "LinearStepPercent"}, "StepBakeTimeInMinutes": {"Ref": "LinearStepBakeMinutes"}})
    );
    assert_eq!(
        d["LifecycleHooks"][1],
        json!({"TargetType": "PAUSE", "LifecycleStages": [{"Ref": "ApprovalStage"}],
               "TimeoutConfiguration": {"TimeoutInMinutes": {"Ref": "ApprovalTimeoutMinutes"},
                                        "Action": {"Ref": "ApprovalTimeoutAction"}}})
    );
    assert_eq!(
        lb_gated["AdvancedConfiguration"]["TestListenerRule"],
        json!({"Ref": "TestListenerRuleArn"})
    );

    // The roles ECS uses: one invokes the gate and nothing else; one moves the weights with
    // AWS's managed policy for it.
    let invoke = &resources(&t)["HookInvokeRole"]["Properties"];
    assert_eq!(
        invoke["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
        json!({"Service": "ecs.amazonaws.com"})
    );
    assert_eq!(
        invoke["Policies"][0]["PolicyDocument"]["Statement"],
        json!([{"Sid": "InvokeTheGate", "Effect": "Allow", "Action": "lambda:InvokeFunction",
                "Resource": {"Fn::GetAtt": ["DeployGateFunction", "Arn"]}}])
    );
    let lb_role = &resources(&t)["LoadBalancerRole"];
    assert_eq!(lb_role["Condition"], "Gated");
    assert_eq!(
        lb_role["Properties"]["ManagedPolicyArns"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"}])
    );

    // A gated strategy needs the second target group and the production rule.
    let with = |pairs: &[(&'static str, &str)]| {
        let mut p = ecs_inputs();
        for (k, v) in pairs {
            p.insert(k, v.to_string());
        }
        rules_hold(&t, &p)
    };
    assert!(with(&[("DeploymentStrategy", "CANARY"), lb[0], lb[1]]));
    assert!(
        !with(&[("DeploymentStrategy", "CANARY"), lb[0]]),
        "no production rule"
    );
    assert!(
        !with(&[("DeploymentStrategy", "BLUE_GREEN")]),
        "no second target group"
    );
}
