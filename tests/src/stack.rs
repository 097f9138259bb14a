//! A small ECS stack in the emulator: a VPC, a cluster, a task definition with everything a
//! real one carries, a Fargate service, and an SNS topic read through an SQS queue.

use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, CpuArchitecture,
    EphemeralStorage, HealthCheck, KeyValuePair, LaunchType, LogConfiguration, LogDriver,
    NetworkConfiguration, NetworkMode, OsFamily, PortMapping, RuntimePlatform, Secret, Service,
    ServiceField, Tag, TaskDefinition, TaskDefinitionField, Ulimit, UlimitName,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};

use crate::emulator::{Emulator, ACCOUNT, REGION};
use autopilot_core::aws::Clients;

/// What a test needs to look at the stack.
pub struct Stack {
    pub sdk: SdkConfig,
    pub ecs: aws_sdk_ecs::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub cluster: String,
    pub service: String,
    pub service_arn: String,
    pub task_definition: String,
    pub topic_arn: String,
    pub queue_url: String,
    pub subnet: String,
    pub security_group: String,
}

/// The attempt timeout of [`Stack::clients_via`]'s clients: a response delayed longer is given up
/// on and retried.
pub const FAST_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

/// The image the stack's service starts with.
pub fn initial_image() -> String {
    format!("{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web:v1.0.0")
}

impl Stack {
    /// Creates the stack: cluster `cluster`, service `service` (desired 2) on a rich task
    /// definition of family `service`, topic and queue named after the cluster.
    pub async fn create(emu: &Emulator, cluster: &str, service: &str) -> Stack {
        Self::create_as(emu, "testing", cluster, service).await
    }

    /// [`Stack::create`] in the emulator's account of `access_key` (another account of an
    /// organization: [`Emulator::account_key`]).
    pub async fn create_as(
        emu: &Emulator,
        access_key: &str,
        cluster: &str,
        service: &str,
    ) -> Stack {
        let sdk = emu.sdk_config_as(access_key);
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);

        let (vpc, mut subnets) = emu.vpc_as(access_key, &["10.0.1.0/24"]);
        let subnet = subnets.remove(0);
        let security_group =
            emu.security_group_as(access_key, &vpc, &format!("{service}-tasks"), "tasks");

        ecs.create_cluster()
            .cluster_name(cluster)
            .send()
            .await
            .expect("CreateCluster");
        let task_definition = register_rich_task_definition(&ecs, service, &initial_image()).await;
        let created = ecs
            .create_service()
            .cluster(cluster)
            .service_name(service)
            .task_definition(&task_definition)
            .desired_count(2)
            .launch_type(LaunchType::Fargate)
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        AwsVpcConfiguration::builder()
                            .subnets(&subnet)
                            .security_groups(&security_group)
                            .assign_public_ip(AssignPublicIp::Disabled)
                            .build()
                            .expect("awsvpc configuration"),
                    )
                    .build(),
            )
            .tags(Tag::builder().key("team").value("payments").build())
            .send()
            .await
            .expect("CreateService");
        let service_arn = created
            .service
            .and_then(|s| s.service_arn)
            .expect("service ARN");

        let (topic_arn, queue_url) = topic_with_queue(&sns, &sqs, &format!("{cluster}-chat")).await;

        Stack {
            sdk,
            ecs,
            sns,
            sqs,
            cluster: cluster.into(),
            service: service.into(),
            service_arn,
            task_definition,
            topic_arn,
            queue_url,
            subnet,
            security_group,
        }
    }

    /// Clients for the code under test, recording their calls, with the SNS client also
    /// capturing every message it publishes.
    pub fn clients(&self) -> (Clients, Capture) {
        Self::clients_with(&self.sdk)
    }

    /// The functions' clients through `endpoint` (a fault proxy), with the production timeouts
    /// scaled down and the SDK's standard retries (3 attempts) with a short backoff, so faults
    /// are retried as in Lambda but the tests stay quick.
    pub fn clients_via(&self, endpoint: &str) -> (Clients, Capture) {
        let sdk = self
            .sdk
            .to_builder()
            .endpoint_url(endpoint)
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(std::time::Duration::from_millis(5))
                    .with_max_backoff(std::time::Duration::from_millis(50)),
            )
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(FAST_ATTEMPT_TIMEOUT)
                    .build(),
            )
            .build();
        Self::clients_with(&sdk)
    }

    fn clients_with(sdk: &SdkConfig) -> (Clients, Capture) {
        let mut clients = Clients::new(sdk);
        let capture = Capture::default();
        let sns = aws_sdk_sns::config::Builder::from(sdk)
            .interceptor(clients.calls.clone())
            .interceptor(capture.clone())
            .build();
        clients.sns = aws_sdk_sns::Client::from_conf(sns);
        (clients, capture)
    }

    /// Every chat notification that reached the stack's queue, as SNS delivered them (the
    /// `Message` of each SNS envelope, parsed).
    pub async fn notifications(&self) -> Vec<Value> {
        self.notifications_in(&self.queue_url).await
    }

    /// Another topic, read through a queue of its own: `(topic ARN, queue URL)`.
    pub async fn extra_topic(&self, name: &str) -> (String, String) {
        topic_with_queue(&self.sns, &self.sqs, name).await
    }

    /// Every notification that reached a queue (and deletes them).
    pub async fn notifications_in(&self, queue_url: &str) -> Vec<Value> {
        self.drain(queue_url)
            .await
            .iter()
            .map(|body| {
                let envelope: Value = serde_json::from_str(body).expect("SNS envelope JSON");
                let message = envelope["Message"]
                    .as_str()
                    .expect("SNS envelope has a Message")
                    .to_string();
                serde_json::from_str(&message).unwrap_or(Value::String(message))
            })
            .collect()
    }

    /// The bodies of every message waiting in a queue, in order, deleted as read.
    pub async fn drain(&self, queue_url: &str) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("ReceiveMessage");
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                return out;
            }
            for m in messages {
                out.push(m.body().unwrap_or_default().to_string());
                if let Some(handle) = m.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("DeleteMessage");
                }
            }
        }
    }

    /// The service as it is now, with tags.
    pub async fn describe_service(&self) -> Service {
        self.service_named(&self.service).await
    }

    /// A task definition with its tags.
    pub async fn describe_task_definition(&self, arn: &str) -> (TaskDefinition, Vec<Tag>) {
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .expect("DescribeTaskDefinition");
        (
            out.task_definition.expect("task definition"),
            out.tags.unwrap_or_default(),
        )
    }

    /// The ACTIVE revisions of the service's family.
    pub async fn revisions(&self) -> Vec<String> {
        self.ecs
            .list_task_definitions()
            .family_prefix(&self.service)
            .send()
            .await
            .expect("ListTaskDefinitions")
            .task_definition_arns
            .unwrap_or_default()
    }

    /// Starts `count` tasks as a deployment would (startedBy = the deployment id), then stops
    /// them with `reason`.
    pub async fn stopped_deployment_tasks(&self, deployment_id: &str, count: i32, reason: &str) {
        self.run_and_stop(Some(deployment_id), None, &[], count, reason)
            .await;
    }

    /// Runs `count` Fargate tasks of the stack's task definition with the given startedBy,
    /// group and tags, stops them with `reason`, and returns their ARNs.
    pub async fn run_and_stop(
        &self,
        started_by: Option<&str>,
        group: Option<&str>,
        tags: &[(&str, &str)],
        count: i32,
        reason: &str,
    ) -> Vec<String> {
        let run = self
            .ecs
            .run_task()
            .cluster(&self.cluster)
            .task_definition(&self.task_definition)
            .set_started_by(started_by.map(str::to_string))
            .set_group(group.map(str::to_string))
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                    .collect(),
            ))
            .count(count)
            .launch_type(LaunchType::Fargate)
            .network_configuration(self.network())
            .send()
            .await
            .expect("RunTask");
        let mut arns = vec![];
        for task in run.tasks.unwrap_or_default() {
            let arn = task.task_arn.expect("task ARN");
            self.ecs
                .stop_task()
                .cluster(&self.cluster)
                .task(&arn)
                .reason(reason)
                .send()
                .await
                .expect("StopTask");
            arns.push(arn);
        }
        arns
    }

    /// Another Fargate service on the stack's task definition; returns its ARN.
    pub async fn create_service(&self, name: &str, desired: i32, tags: &[(&str, &str)]) -> String {
        self.create_service_in(&self.cluster, name, desired, tags)
            .await
    }

    /// A Fargate service of `cluster` (which must exist) on the stack's task definition and
    /// network; returns its ARN.
    pub async fn create_service_in(
        &self,
        cluster: &str,
        name: &str,
        desired: i32,
        tags: &[(&str, &str)],
    ) -> String {
        self.ecs
            .create_service()
            .cluster(cluster)
            .service_name(name)
            .task_definition(&self.task_definition)
            .desired_count(desired)
            .launch_type(LaunchType::Fargate)
            .network_configuration(self.network())
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                    .collect(),
            ))
            .send()
            .await
            .expect("CreateService")
            .service
            .and_then(|s| s.service_arn)
            .expect("service ARN")
    }

    /// A service by name, with tags.
    pub async fn service_named(&self, name: &str) -> Service {
        self.ecs
            .describe_services()
            .cluster(&self.cluster)
            .services(name)
            .include(ServiceField::Tags)
            .send()
            .await
            .expect("DescribeServices")
            .services
            .and_then(|s| s.into_iter().next())
            .expect("the service exists")
    }

    /// The two alarms Application Auto Scaling creates for a target-tracking policy named
    /// `policy` on `metric` of `service`, as AWS makes them: named
    /// `TargetTracking-service/<cluster>/<service>-AlarmHigh-<uuid>` (and `-AlarmLow-`), the
    /// service in their dimensions, the scaling policy's ARN as their action. The emulator's
    /// own target-tracking policies do not create them as AWS does. Returns their names.
    pub async fn put_target_tracking_alarms(
        &self,
        service: &str,
        policy: &str,
        metric: &str,
    ) -> Vec<String> {
        use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
        let uuid = || {
            format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                fastrand::u32(..),
                fastrand::u16(..),
                fastrand::u16(..0x1000),
                fastrand::u16(..0x1000),
                fastrand::u64(..0x1_0000_0000_0000)
            )
        };
        let policy_arn = format!(
            "arn:aws:autoscaling:{REGION}:{ACCOUNT}:scalingPolicy:{}:resource/ecs/service/{}/{service}:policyName/{policy}",
            uuid(),
            self.cluster
        );
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&self.sdk);
        let mut names = vec![];
        for (kind, comparison, threshold, periods) in [
            (
                "AlarmHigh",
                ComparisonOperator::GreaterThanThreshold,
                70.0,
                3,
            ),
            ("AlarmLow", ComparisonOperator::LessThanThreshold, 63.0, 15),
        ] {
            let name = format!(
                "TargetTracking-service/{}/{service}-{kind}-{}",
                self.cluster,
                uuid()
            );
            cloudwatch
                .put_metric_alarm()
                .alarm_name(&name)
                .alarm_description(format!(
                    "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy_arn}."
                ))
                .namespace("AWS/ECS")
                .metric_name(metric)
                .set_dimensions(Some(self.service_dimensions(service)))
                .statistic(Statistic::Average)
                .period(60)
                .evaluation_periods(periods)
                .threshold(threshold)
                .comparison_operator(comparison)
                .alarm_actions(&policy_arn)
                .send()
                .await
                .expect("PutMetricAlarm");
            names.push(name);
        }
        names
    }

    /// A service's `ClusterName` and `ServiceName` dimensions, as ECS publishes its metrics.
    fn service_dimensions(&self, service: &str) -> Vec<aws_sdk_cloudwatch::types::Dimension> {
        [
            ("ClusterName", self.cluster.as_str()),
            ("ServiceName", service),
        ]
        .into_iter()
        .map(|(name, value)| {
            aws_sdk_cloudwatch::types::Dimension::builder()
                .name(name)
                .value(value)
                .build()
        })
        .collect()
    }

    /// A CPU alarm (above 80 % for 3 minutes) on one of the cluster's services, with tags.
    pub async fn put_cpu_alarm(&self, name: &str, service: &str, tags: &[(&str, &str)]) {
        use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
        aws_sdk_cloudwatch::Client::new(&self.sdk)
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("AWS/ECS")
            .metric_name("CPUUtilization")
            .set_dimensions(Some(self.service_dimensions(service)))
            .statistic(Statistic::Average)
            .period(60)
            .evaluation_periods(3)
            .threshold(80.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .alarm_actions(&self.topic_arn)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| {
                        aws_sdk_cloudwatch::types::Tag::builder()
                            .key(*k)
                            .value(*v)
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .expect("PutMetricAlarm");
    }

    /// Adds tags to the stack's service.
    pub async fn tag_service(&self, tags: &[(&str, &str)]) {
        self.ecs
            .tag_resource()
            .resource_arn(&self.service_arn)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                    .collect(),
            ))
            .send()
            .await
            .expect("TagResource");
    }

    /// One task of the stack's service, run and stopped with `reason`; returns its ARN.
    pub async fn stopped_service_task(&self, reason: &str) -> String {
        let group = format!("service:{}", self.service);
        self.run_and_stop(None, Some(&group), &[], 1, reason)
            .await
            .remove(0)
    }

    /// The stack's subnet and security group, as RunTask takes them.
    pub fn network(&self) -> NetworkConfiguration {
        NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .subnets(&self.subnet)
                    .security_groups(&self.security_group)
                    .build()
                    .expect("awsvpc configuration"),
            )
            .build()
    }

    /// Registers the service with Application Auto Scaling at `min..=max`, as a stack with auto
    /// scaling has it.
    pub async fn register_scalable_target(&self, min: i32, max: i32) {
        self.register_scalable_target_for(&self.service, min, max)
            .await
    }

    /// Registers another service of the stack's cluster at `min..=max`.
    pub async fn register_scalable_target_for(&self, service: &str, min: i32, max: i32) {
        aws_sdk_applicationautoscaling::Client::new(&self.sdk)
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(format!("service/{}/{service}", self.cluster))
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(min)
            .max_capacity(max)
            .send()
            .await
            .expect("RegisterScalableTarget");
    }

    /// The id of the service's newest deployment.
    pub async fn deployment_id(&self) -> Option<String> {
        self.describe_service()
            .await
            .deployments()
            .first()
            .and_then(|d| d.id())
            .map(str::to_string)
    }

    /// The cluster's ARN.
    pub fn cluster_arn(&self) -> String {
        format!(
            "arn:aws:ecs:{REGION}:{}:cluster/{}",
            self.account(),
            self.cluster
        )
    }

    /// The account the stack is in (its service's).
    pub fn account(&self) -> &str {
        self.service_arn.split(':').nth(4).unwrap_or(ACCOUNT)
    }
}

/// A topic with an SQS queue subscribed to it: `(topic ARN, queue URL)`.
async fn topic_with_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> (String, String) {
    let topic_arn = sns
        .create_topic()
        .name(name)
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn
        .expect("topic ARN");
    let queue_url = queue_on_topic(sns, sqs, &topic_arn, &format!("{name}-reader")).await;
    (topic_arn, queue_url)
}

/// A new SQS queue `queue` subscribed to an existing topic; returns its URL.
pub async fn queue_on_topic(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    topic_arn: &str,
    queue: &str,
) -> String {
    let queue_url = sqs
        .create_queue()
        .queue_name(queue)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("queue URL");
    sns.subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"))
        .send()
        .await
        .expect("Subscribe");
    queue_url
}

/// Registers a task definition that uses most of what RegisterTaskDefinition accepts, so a copy
/// that drops a field shows.
pub async fn register_rich_task_definition(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    image: &str,
) -> String {
    let app = ContainerDefinition::builder()
        .name("app")
        .image(image)
        .essential(true)
        .memory(512)
        .port_mappings(PortMapping::builder().container_port(3000).build())
        .environment(KeyValuePair::builder().name("PORT").value("3000").build())
        .secrets(
            Secret::builder()
                .name("DATABASE_URL")
                .value_from(format!(
                    "arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf"
                ))
                .build()
                .expect("secret"),
        )
        .health_check(
            HealthCheck::builder()
                .command("CMD-SHELL")
                .command("curl -f http://localhost:3000/api/health || exit 1")
                .interval(30)
                .retries(3)
                .build()
                .expect("health check"),
        )
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", format!("/ecs/{family}"))
                .options("awslogs-region", REGION)
                .options("awslogs-stream-prefix", "app")
                .build()
                .expect("log configuration"),
        )
        .ulimits(
            Ulimit::builder()
                .name(UlimitName::Nofile)
                .soft_limit(65536)
                .hard_limit(65536)
                .build()
                .expect("ulimit"),
        )
        .build();
    let sidecar = ContainerDefinition::builder()
        .name("log-router")
        .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable")
        .essential(false)
        .memory(64)
        .build();
    ecs.register_task_definition()
        .family(family)
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("1024")
        .execution_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{family}-execution"))
        .task_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{family}-task"))
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::Arm64)
                .operating_system_family(OsFamily::Linux)
                .build(),
        )
        .ephemeral_storage(EphemeralStorage::builder().size_in_gib(30).build())
        .container_definitions(app)
        .container_definitions(sidecar)
        .tags(Tag::builder().key("team").value("payments").build())
        .tags(Tag::builder().key("cost-center").value("cc-42").build())
        .send()
        .await
        .expect("RegisterTaskDefinition")
        .task_definition
        .and_then(|td| td.task_definition_arn)
        .expect("task definition ARN")
}

/// Captures the `Message` of every SNS Publish, exactly as sent (all protocols' renderings).
#[derive(Clone, Debug, Default)]
pub struct Capture(Arc<Mutex<Vec<String>>>);

impl Capture {
    /// The published messages so far, each the `MessageStructure=json` document.
    pub fn published(&self) -> Vec<Value> {
        self.0
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
            .iter()
            .map(|m| serde_json::from_str(m).unwrap_or(Value::String(m.clone())))
            .collect()
    }
}

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "Capture"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(input) = context
            .input()
            .downcast_ref::<aws_sdk_sns::operation::publish::PublishInput>()
        {
            if let Ok(mut m) = self.0.lock() {
                m.push(input.message().unwrap_or_default().to_string());
            }
        }
        Ok(())
    }
}
