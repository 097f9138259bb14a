//! The stack deployed into the emulator

use super::*;

pub(super) const OFF_HOURS: (&str, &str) = ("OffHoursOnHours", "Mon-Fri 07:00-19:00");

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

    // The dashboard, its body as CloudFormation resolved it (the functions' names from their
    // Refs, off-hours' graphs with off-hours), and the output that links to it.
    let xml = emu.query(
        "monitoring",
        "2010-08-01",
        &[
            ("Action", "GetDashboard"),
            ("DashboardName", "autopilot-demo-autopilot"),
        ],
    );
    let body = xml_value(&xml, "DashboardBody")
        .expect("the dashboard's body")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let body: Value = serde_json::from_str(&body).expect("the dashboard's body is JSON");
    let graphs = body["widgets"].to_string();
    for (binary, _) in FUNCTIONS {
        assert!(
            graphs.contains(&format!("\"{}\"", function_name(binary))),
            "{binary} not in the dashboard: {graphs}"
        );
    }
    assert!(graphs.contains("EstimatedSavingsUSD"), "{graphs}");
    assert_eq!(
        deployed.output("DashboardUrl"),
        format!("https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}#dashboards/dashboard/autopilot-demo-autopilot")
    );

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

pub(super) fn props<'a>(t: &'a Value, id: &str) -> &'a Value {
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
    // Rolling by default: the gated strategies' settings resolve to nothing (their own test is
    // in `translated`).
    let rolling = Conditions::of(&t, &[]);
    assert_eq!(
        rolling.resolve(&service["LoadBalancers"]),
        json!([{"ContainerName": "app", "ContainerPort": 3000, "TargetGroupArn": {"Ref": "TargetGroupArn"}}])
    );
    assert_eq!(
        rolling.resolve(&service["DeploymentConfiguration"]),
        json!({"Strategy": {"Ref": "DeploymentStrategy"}, "MinimumHealthyPercent": 100, "MaximumPercent": 200,
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
            "pauses",
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
    assert_eq!(rules.len(), 6, "{rules:?}");
    // The weekly account runs on an EventBridge Scheduler schedule, not a rule of the bus
    // (the emulator's CloudFormation reports the schedule created without creating it: its
    // properties are checked in the translated template).
    let t = translate();
    let weekly = resources(&t)
        .values()
        .find(|r| r["Type"] == "AWS::Scheduler::Schedule")
        .expect("the weekly schedule");
    assert_eq!(
        weekly["Properties"]["ScheduleExpression"],
        json!({"Fn::Sub": "cron(0 ${WeeklyAccountHour} ? * ${WeeklyAccountDay} *)"})
    );
    assert_eq!(
        weekly["Properties"]["Target"]["Arn"],
        json!({"Fn::GetAtt": ["WeeklyAccountFunction", "Arn"]})
    );
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
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(!names.contains(&function_name("off-hours")));
    assert!(DeployedStack::rules(&emu)
        .iter()
        .all(|r| r.schedule.is_none()));
}

/// A sample event of `events/`, pointed at the deployed stack's names (its cluster, service
/// and repository; the alarm samples are already named `autopilot-demo-*`).
pub(super) fn for_stack(sample: &str) -> Value {
    let mut e = sample_event(sample);
    let service_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{SERVICE}");
    match e["detail-type"].as_str().unwrap_or_default() {
        "ECR Image Action" => e["detail"]["repository-name"] = json!(REPOSITORY),
        "ECS Deployment State Change" => e["resources"] = json!([service_arn]),
        "ECS Hook State Change" => e["detail"]["serviceArn"] = json!(service_arn),
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
pub(super) async fn probe_rules(
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
pub(super) async fn check_routes(
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
        ["alarms", "deploys", "pauses", "push", "stops"]
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
            Some("ECS Hook State Change") => Some("pauses"),
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
    let mut other_pause = for_stack("deployer/ecs-hook-awaiting-action.json");
    other_pause["detail"]["serviceArn"] = json!(format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/worker"
    ));
    cases.push(("another service's pause".into(), other_pause, None));
    let mut gate_hook = for_stack("deployer/ecs-hook-awaiting-action.json");
    gate_hook["detail"]["hookType"] = json!("AWS_LAMBDA");
    cases.push(("the gate's own hook events".into(), gate_hook, None));
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
    assert_eq!(probes.len(), 5, "{probes:?}");
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
    let mut pause = sample_event("deployer/ecs-hook-awaiting-action.json");
    pause["detail"]["serviceArn"] = json!(format!(
        "arn:aws:ecs:{REGION}:{ACCOUNT}:service/billing-prod/api"
    ));
    let mut lambda_hook = pause.clone();
    lambda_hook["detail"]["hookType"] = json!("AWS_LAMBDA");
    let cases: Vec<(String, Value, Option<&str>)> = vec![
        ("any service's pause".into(), pause, Some("pauses")),
        ("a Lambda hook's event".into(), lambda_hook, None),
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

/// The stack deploys with each traffic-shifting strategy (the emulator's CloudFormation keeps
/// the service's strategy and hooks to itself: what ECS gets is checked in the translated
/// template), with the role ECS moves the load balancer with, and an approval pause.
#[tokio::test]
async fn the_stack_deploys_with_each_gated_strategy() {
    for strategy in ["BLUE_GREEN", "LINEAR", "CANARY"] {
        let emu = template::emulator();
        let alternate = format!(
            "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/autopilot-green/73e2d6bc24d8a067"
        );
        let rule = format!(
            "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener-rule/app/autopilot/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
        );
        let deployed = DeployedStack::deploy(
            &emu,
            &translate(),
            &[
                ("DeploymentStrategy", strategy),
                ("AlternateTargetGroupArn", &alternate),
                ("ProductionListenerRuleArn", &rule),
                ("ApprovalStage", "POST_TEST_TRAFFIC_SHIFT"),
            ],
        );
        assert_eq!(deployed.output("ServiceName"), SERVICE, "{strategy}");
        assert!(
            deployed.output("HookInvokeRoleArn").contains(":role/"),
            "{strategy}"
        );
        let xml = emu.query(
            "cloudformation",
            "2010-05-15",
            &[
                ("Action", "DescribeStackResources"),
                ("StackName", &deployed.names.stack),
            ],
        );
        assert!(
            xml.contains("<LogicalResourceId>LoadBalancerRole</LogicalResourceId>"),
            "{strategy}: the role ECS moves the weights with"
        );
    }
}
