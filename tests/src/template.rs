//! The SAM template (`sam/template.yaml`): translated offline with the SAM translator, and
//! deployed into the emulator's CloudFormation over the prerequisites a real account already has
//! (VPC, subnets, load balancer security group and target group, task roles, secrets).
//!
//! moto's CloudFormation cannot apply the SAM transform, so the template is translated first
//! (`tools/translate.py`, in the `.venv-sam` venv). It reports `AWS::CloudWatch::Alarm`,
//! `AWS::ApplicationAutoScaling::*`, `AWS::Lambda::EventInvokeConfig`, `AWS::SNS::TopicPolicy` and
//! `AWS::SQS::QueuePolicy` as created without creating them, and drops a function's
//! `Architectures`: what it does not create is checked in the translated template instead.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::emulator::{xml_value, Emulator, ACCOUNT, REGION};
use crate::stack::{register_rich_task_definition, Stack};

/// The project and environment every test deploys the template as: cluster
/// `autopilot-cluster-demo`, service `autopilot-service-demo`, repository `autopilot-demo`, alarm
/// names starting `autopilot-demo-` (as the alarm-notifier's sample events are named).
pub const PROJECT: &str = "autopilot";
pub const ENVIRONMENT: &str = "demo";
/// The CloudFormation stack's name.
pub const STACK_NAME: &str = "autopilot-demo";

/// The six functions: (binary name, logical id of its `AWS::Serverless::Function`).
pub const FUNCTIONS: [(&str, &str); 6] = [
    ("deployer", "DeployerFunction"),
    ("task-watcher", "TaskWatcherFunction"),
    ("alarm-notifier", "AlarmNotifierFunction"),
    ("off-hours", "OffHoursFunction"),
    ("deploy-gate", "DeployGateFunction"),
    ("weekly-account", "WeeklyAccountFunction"),
];

/// The deployed name of a function (`<project>-<environment>-<binary>`) in the tests' stack.
pub fn function_name(binary: &str) -> String {
    Names::tests().function(binary)
}

/// What a deployed stack is called: its CloudFormation stack, and the `ProjectName` and
/// `Environment` its resources are named after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    pub stack: String,
    pub project: String,
    pub environment: String,
}

impl Names {
    /// The names every test deploys the template as.
    pub fn tests() -> Names {
        Names {
            stack: STACK_NAME.into(),
            project: PROJECT.into(),
            environment: ENVIRONMENT.into(),
        }
    }

    /// The deployed name of a function (`<project>-<environment>-<binary>`).
    pub fn function(&self, binary: &str) -> String {
        format!("{}-{}-{binary}", self.project, self.environment)
    }

    /// The prefix of the stack's EventBridge rules.
    pub fn rule_prefix(&self) -> String {
        format!("{}-{}-autopilot-", self.project, self.environment)
    }
}

/// `sam/template.yaml`.
pub fn template_path() -> PathBuf {
    crate::workspace_root().join("sam/template.yaml")
}

/// `sam/spoke.yaml`, organization mode's template for each member account (plain
/// CloudFormation, no transform).
pub fn spoke_path() -> PathBuf {
    crate::workspace_root().join("sam/spoke.yaml")
}

/// The spoke template as JSON (its short-form tags in the long form), read by
/// `tools/translate.py`, which leaves a template without the SAM transform as it is.
pub fn spoke() -> Value {
    static SPOKE: OnceLock<Value> = OnceLock::new();
    SPOKE
        .get_or_init(|| run_translator_on(&spoke_path()))
        .clone()
}

/// A command from one of the tool venvs the Makefile creates (`make tools`); panics with the
/// command that creates it when it is missing.
pub fn tool(venv: &str, name: &str) -> PathBuf {
    let path = crate::workspace_root().join(venv).join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: create the template tools with `make tools` (make test does)",
        path.display()
    );
    path
}

/// The template translated into plain CloudFormation JSON by the SAM translator; translated
/// once per version of the template (it runs a Python process, about 2 s) and kept in
/// `target/template-cache/`, a copy for each caller.
pub fn translate() -> Value {
    static TRANSLATED: OnceLock<Value> = OnceLock::new();
    TRANSLATED.get_or_init(|| translate_cached().0).clone()
}

/// The translated template, and whether it came from the cache (the demo says so).
pub fn translate_cached() -> (Value, bool) {
    let read = |path: &std::path::Path| -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    };
    let cache = crate::workspace_root()
        .join("target/template-cache")
        .join(format!("translated-{:016x}.json", translation_key()));
    if let Some(cached) = read(&cache) {
        return (cached, true);
    }
    let translated = run_translator();
    if let Some(dir) = cache.parent() {
        // A cache, not a result: a failure to write it only costs the next run 2 s. Written
        // aside and renamed, so a concurrent reader never sees half a file.
        let _ = std::fs::create_dir_all(dir);
        let partial = cache.with_extension(format!("{}.partial", std::process::id()));
        if std::fs::write(&partial, translated.to_string()).is_ok() {
            let _ = std::fs::rename(&partial, &cache);
        }
    }
    (translated, false)
}

fn run_translator() -> Value {
    run_translator_on(&template_path())
}

fn run_translator_on(template: &std::path::Path) -> Value {
    let out = std::env::temp_dir().join(format!(
        "autopilot-translated-{}-{}.json",
        std::process::id(),
        fastrand::u64(..)
    ));
    let result = Command::new(tool(".venv-sam", "python"))
        .arg(crate::workspace_root().join("tools/translate.py"))
        .arg(template)
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tools/translate.py: {e}"));
    assert!(
        result.status.success(),
        "the SAM translator rejected the template:\n{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    let text = std::fs::read_to_string(&out)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", out.display()));
    let _ = std::fs::remove_file(&out);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("translated template is not JSON: {e}"))
}

/// What the translation depends on: the template and the translating script.
fn translation_key() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    for path in [
        template_path(),
        crate::workspace_root().join("tools/translate.py"),
        crate::workspace_root().join("tools/sam-constraints.txt"),
    ] {
        std::fs::read(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
            .hash(&mut h);
    }
    h.finish()
}

/// The emulator as the template needs it: Lambda functions created from an `s3://` CodeUri
/// without the object having to exist.
pub fn emulator() -> Emulator {
    Emulator::start_with(&[
        ("VALIDATE_LAMBDA_S3", "false"),
        ("MOTO_ECS_SERVICE_RUNNING", "2"),
    ])
}

/// What the stack expects to exist already in a real account, created in the emulator.
#[derive(Clone, Debug)]
pub struct Prerequisites {
    pub vpc: String,
    pub subnets: Vec<String>,
    pub alb_security_group: String,
    pub target_group_arn: String,
    pub execution_role_arn: String,
    pub task_role_arn: String,
    /// Parameter name -> secret ARN.
    pub secrets: BTreeMap<&'static str, String>,
}

impl Prerequisites {
    /// A VPC with DNS host names and two private subnets, the load balancer's security group and
    /// an `ip` target group on port 3000, the task execution and task roles, and the secrets.
    pub fn create(emu: &Emulator) -> Prerequisites {
        let (vpc, subnets) = emu.vpc(&["10.0.1.0/24", "10.0.2.0/24"]);
        let alb_security_group = emu.security_group(&vpc, "alb", "load balancer");
        let target_group_arn = xml_value(
            &emu.query(
                "elasticloadbalancing",
                "2015-12-01",
                &[
                    ("Action", "CreateTargetGroup"),
                    ("Name", "autopilot-demo"),
                    ("Protocol", "HTTP"),
                    ("Port", "3000"),
                    ("VpcId", &vpc),
                    ("TargetType", "ip"),
                    ("HealthCheckPath", "/api/health"),
                ],
            ),
            "TargetGroupArn",
        )
        .unwrap_or_else(|| panic!("CreateTargetGroup returned no TargetGroupArn"));
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        .to_string();
        let role = |name: &str| {
            xml_value(
                &emu.query(
                    "iam",
                    "2010-05-08",
                    &[
                        ("Action", "CreateRole"),
                        ("RoleName", name),
                        ("AssumeRolePolicyDocument", &trust),
                    ],
                ),
                "Arn",
            )
            .unwrap_or_else(|| panic!("CreateRole {name} returned no Arn"))
        };
        let execution_role_arn = role("autopilot-demo-execution");
        let task_role_arn = role("autopilot-demo-task");
        let secrets = [
            ("DatabaseSecretArn", "database-url"),
            ("NextAuthSecretArn", "nextauth-secret"),
            ("AnthropicSecretArn", "anthropic-api-key"),
            ("GoogleOAuthSecretArn", "google-oauth"),
            ("EncryptionKeySecretArn", "encryption-key"),
            // Given, although optional: moto's CloudFormation keeps a null where `AWS::NoValue`
            // removes a list item (the REDIS_URL secret when RedisSecretArn is empty), which its
            // ECS then cannot describe. The shape without it is checked in the translated template.
            ("RedisSecretArn", "redis-url"),
        ]
        .into_iter()
        .map(|(parameter, name)| {
            let created = emu.json(
                "secretsmanager",
                "secretsmanager.CreateSecret",
                &json!({"Name": format!("autopilot-demo/{name}"), "SecretString": "not-a-real-secret"}),
            );
            let arn = created["ARN"]
                .as_str()
                .unwrap_or_else(|| panic!("CreateSecret returned no ARN: {created}"))
                .to_string();
            (parameter, arn)
        })
        .collect();
        Prerequisites {
            vpc,
            subnets,
            alb_security_group,
            target_group_arn,
            execution_role_arn,
            task_role_arn,
            secrets,
        }
    }

    /// The template's parameters for these prerequisites, as `sam deploy` would pass them.
    pub fn parameters(&self, names: &Names) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = [
            ("ProjectName", names.project.clone()),
            ("Environment", names.environment.clone()),
            ("VpcId", self.vpc.clone()),
            ("PrivateSubnetIds", self.subnets.join(",")),
            ("AlbSecurityGroupId", self.alb_security_group.clone()),
            ("TargetGroupArn", self.target_group_arn.clone()),
            ("EcsExecutionRoleArn", self.execution_role_arn.clone()),
            ("EcsTaskRoleArn", self.task_role_arn.clone()),
            ("NextAuthUrl", "https://app.example.com".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        p.extend(self.secrets.iter().map(|(k, v)| (k.to_string(), v.clone())));
        p
    }
}

/// A rule of the deployed stack, as EventBridge holds it.
#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    pub arn: String,
    /// The event pattern (intrinsic functions resolved), or `None` for a schedule.
    pub pattern: Option<Value>,
    pub schedule: Option<String>,
    pub targets: Vec<Value>,
}

/// The template deployed into the emulator's CloudFormation.
pub struct DeployedStack {
    pub names: Names,
    pub prerequisites: Prerequisites,
    /// The parameters it was created with.
    pub parameters: BTreeMap<String, String>,
    /// The stack's outputs.
    pub outputs: BTreeMap<String, String>,
}

/// Turns off the stack's event source mappings in the emulator. On AWS, Lambda's poller reads
/// each FIFO queue and invokes the function; moto's would try to run the function in Docker and
/// hide the message for the queue's visibility timeout. The tests read the queue themselves and
/// hand the function what the poller would ([`sqs_event`]).
pub fn pollers_off(emu: &Emulator) {
    let listed = emu.rest("lambda", "GET", "/2015-03-31/event-source-mappings/");
    for m in listed["EventSourceMappings"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(uuid) = m["UUID"].as_str() else {
            continue;
        };
        emu.rest_json(
            "lambda",
            "PUT",
            &format!("/2015-03-31/event-source-mappings/{uuid}"),
            &json!({"Enabled": false}),
        );
    }
}

/// The event Lambda's SQS poller hands a function for one message of a FIFO queue (the "Using
/// Lambda with Amazon SQS" page of the Lambda developer guide, its FIFO example): one record,
/// the body as EventBridge sent it, the message group of the rule's target.
pub fn sqs_event(queue_arn: &str, group: &str, body: &str) -> Value {
    let now = chrono::Utc::now().timestamp_millis().to_string();
    let id = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u16(..0x1000),
        fastrand::u16(..0x1000),
        fastrand::u64(..0x1_0000_0000_0000)
    );
    json!({"Records": [{
        "messageId": id,
        "receiptHandle": format!("AQEB{}", fastrand::u64(..)),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now,
            "SequenceNumber": format!("1884949646046769{:04}", fastrand::u16(..10000)),
            "MessageGroupId": group,
            "SenderId": "AROAEXAMPLE:events",
            "MessageDeduplicationId": format!("{:064x}", fastrand::u128(..)),
            "ApproximateFirstReceiveTimestamp": now
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION
    }]})
}

impl DeployedStack {
    /// Creates the prerequisites, then the tests' stack from the translated template with
    /// their parameters plus `overrides`, and waits for CREATE_COMPLETE; panics with the
    /// stack's status reason otherwise.
    pub fn deploy(emu: &Emulator, translated: &Value, overrides: &[(&str, &str)]) -> DeployedStack {
        let overrides: Vec<(String, String)> = overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::deploy_as(emu, translated, &Names::tests(), &overrides)
    }

    /// [`DeployedStack::deploy`] under other names.
    pub fn deploy_as(
        emu: &Emulator,
        translated: &Value,
        names: &Names,
        overrides: &[(String, String)],
    ) -> DeployedStack {
        let prerequisites = Prerequisites::create(emu);
        let mut parameters = prerequisites.parameters(names);
        for (k, v) in overrides {
            parameters.retain(|(key, _)| key != k);
            parameters.push((k.clone(), v.clone()));
        }
        let outputs = create_stack(emu, translated, &names.stack, &parameters);
        pollers_off(emu);
        DeployedStack {
            names: names.clone(),
            prerequisites,
            parameters: parameters.into_iter().collect(),
            outputs,
        }
    }

    /// An output of the stack; panics naming it when it is missing.
    pub fn output(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .unwrap_or_else(|| panic!("the stack has no output {key}: {:?}", self.outputs))
    }

    /// The environment variables of a function of the tests' stack (by binary name), as
    /// Lambda holds them.
    pub fn function_env(emu: &Emulator, binary: &str) -> BTreeMap<String, String> {
        Self::function_env_in(emu, &Names::tests(), binary)
    }

    /// The environment variables of a deployed function (by binary name), as Lambda holds them.
    pub fn function_env_in(
        emu: &Emulator,
        names: &Names,
        binary: &str,
    ) -> BTreeMap<String, String> {
        let function = Self::function_in(emu, names, binary);
        function["Configuration"]["Environment"]["Variables"]
            .as_object()
            .map(|vars| {
                vars.iter()
                    .map(|(k, v)| {
                        // moto keeps a number parameter as a number; Lambda holds strings.
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        (k.clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A function of the tests' stack (`GetFunction`), by binary name.
    pub fn function(emu: &Emulator, binary: &str) -> Value {
        Self::function_in(emu, &Names::tests(), binary)
    }

    /// A deployed function (`GetFunction`), by binary name.
    pub fn function_in(emu: &Emulator, names: &Names, binary: &str) -> Value {
        emu.rest(
            "lambda",
            "GET",
            &format!("/2015-03-31/functions/{}", names.function(binary)),
        )
    }

    /// The tests' stack's EventBridge rules with their targets.
    pub fn rules(emu: &Emulator) -> Vec<Rule> {
        Self::rules_in(emu, &Names::tests())
    }

    /// A stack's EventBridge rules (named `<project>-<environment>-autopilot-*`) with their
    /// targets.
    pub fn rules_in(emu: &Emulator, names: &Names) -> Vec<Rule> {
        let prefix = names.rule_prefix();
        let listed = emu.json(
            "events",
            "AWSEvents.ListRules",
            &json!({"NamePrefix": prefix}),
        );
        listed["Rules"]
            .as_array()
            .map(|rules| {
                rules
                    .iter()
                    .map(|r| {
                        let name = r["Name"].as_str().unwrap_or_default().to_string();
                        let targets = emu.json(
                            "events",
                            "AWSEvents.ListTargetsByRule",
                            &json!({"Rule": name}),
                        )["Targets"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default();
                        Rule {
                            arn: r["Arn"].as_str().unwrap_or_default().to_string(),
                            pattern: r["EventPattern"]
                                .as_str()
                                .map(|p| serde_json::from_str(p).unwrap_or(Value::Null)),
                            schedule: r["ScheduleExpression"].as_str().map(str::to_string),
                            targets,
                            name,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The deployed stack as the tests' [`Stack`]: its cluster, service and chat topic (read
    /// through a new SQS queue subscribed to it), the first private subnet and the tasks'
    /// security group. moto cannot run the template's task definition (it wants container-level
    /// memory), so `task_definition` is a runnable revision registered in family
    /// `<project>-<environment>-runner` for the tests' stopped tasks.
    pub async fn as_stack(&self, emu: &Emulator) -> Stack {
        let sdk = emu.sdk_config();
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let cluster = self.output("ClusterName").to_string();
        let service = self.output("ServiceName").to_string();
        let described = ecs
            .describe_services()
            .cluster(&cluster)
            .services(&service)
            .send()
            .await
            .expect("DescribeServices");
        let live = described
            .services()
            .first()
            .unwrap_or_else(|| panic!("the stack's service {service} is missing"));
        let service_arn = live.service_arn().unwrap_or_default().to_string();
        // The tasks' security group, as the task-watcher's restart network names it (moto's
        // CloudFormation drops the service's network configuration).
        let restart: Value = Self::function_env_in(emu, &self.names, "task-watcher")
            .get("RESTART_NETWORK")
            .and_then(|n| serde_json::from_str(n).ok())
            .unwrap_or_default();
        let security_group = restart["securityGroups"][0]
            .as_str()
            .unwrap_or_else(|| panic!("the task-watcher names no security group: {restart}"))
            .to_string();
        let topic_arn = self.output("NotificationTopicArn").to_string();
        let queue_url = crate::stack::queue_on_topic(&sns, &sqs, &topic_arn, "chat-reader").await;
        let task_definition = register_rich_task_definition(
            &ecs,
            &format!("{}-{}-runner", self.names.project, self.names.environment),
            &format!(
                "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{}-{}:v1.0.0",
                self.names.project, self.names.environment
            ),
        )
        .await;
        Stack {
            sdk,
            ecs,
            sns,
            sqs,
            cluster,
            service,
            service_arn,
            task_definition,
            topic_arn,
            queue_url,
            subnet: self.prerequisites.subnets[0].clone(),
            security_group,
        }
    }
}

/// Creates a stack from a translated template with `parameters` and waits for
/// CREATE_COMPLETE; returns its outputs, or panics with the stack's status reason.
pub fn create_stack(
    emu: &Emulator,
    translated: &Value,
    stack_name: &str,
    parameters: &[(String, String)],
) -> BTreeMap<String, String> {
    create_stack_as(
        emu,
        "testing",
        translated,
        stack_name,
        parameters,
        "CAPABILITY_IAM",
    )
}

/// [`create_stack`] in the account of `access_key` ([`Emulator::account_key`]), with
/// `capability` (CAPABILITY_NAMED_IAM for a template that names its roles).
pub fn create_stack_as(
    emu: &Emulator,
    access_key: &str,
    translated: &Value,
    stack_name: &str,
    parameters: &[(String, String)],
    capability: &str,
) -> BTreeMap<String, String> {
    let body = translated.to_string();
    let mut params: Vec<(String, String)> = vec![
        ("Action".into(), "CreateStack".into()),
        ("StackName".into(), stack_name.into()),
        ("TemplateBody".into(), body),
        ("Capabilities.member.1".into(), capability.into()),
    ];
    for (i, (k, v)) in parameters.iter().enumerate() {
        params.push((
            format!("Parameters.member.{}.ParameterKey", i + 1),
            k.clone(),
        ));
        params.push((
            format!("Parameters.member.{}.ParameterValue", i + 1),
            v.clone(),
        ));
    }
    let refs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    emu.query_as(access_key, "cloudformation", "2010-05-15", &refs);
    let deadline = Instant::now() + Duration::from_secs(120);
    let described = loop {
        let xml = emu.query_as(
            access_key,
            "cloudformation",
            "2010-05-15",
            &[("Action", "DescribeStacks"), ("StackName", stack_name)],
        );
        let status = xml_value(&xml, "StackStatus").unwrap_or_default();
        if !status.ends_with("IN_PROGRESS") {
            assert_eq!(
                status,
                "CREATE_COMPLETE",
                "the stack did not deploy: {}\n{}",
                xml_value(&xml, "StackStatusReason").unwrap_or_default(),
                emu.log_text()
            );
            break xml;
        }
        assert!(
            Instant::now() < deadline,
            "the stack is still {status} after 120 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    outputs(&described)
}

/// The outputs of a DescribeStacks answer.
fn outputs(xml: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<OutputKey>") {
        rest = &rest[start..];
        let member_end = rest.find("</member>").unwrap_or(rest.len());
        let member = &rest[..member_end];
        if let (Some(k), Some(v)) = (
            xml_value(member, "OutputKey"),
            xml_value(member, "OutputValue"),
        ) {
            out.insert(unescape(&k), unescape(&v));
        }
        rest = &rest[member_end..];
    }
    out
}

/// XML character entities back to text.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
