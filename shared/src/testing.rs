//! Test support shared by the modules' tests.

use proptest::prelude::{any, prop, prop_oneof, Just, Strategy};
use serde_json::{json, Value};

/// Any JSON value, biased towards the `keys` and `strings` that an event of interest carries,
/// so generated values reach deep into a parser instead of failing at the first field.
pub fn any_json(
    keys: &'static [&'static str],
    strings: &'static [&'static str],
) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(strings).prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    ".{0,8}",
                    prop::sample::select(keys).prop_map(str::to_string)
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Tags from pairs, as a service or an alarm carries them.
pub fn tags(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl FakeState {
    /// Adds an ACTIVE service `cluster/name` (its ARN in us-east-1 of account 123456789012) at
    /// `desired` tasks of `task_definition`, with `tags`; returns it for what else differs.
    pub fn service(
        &mut self,
        cluster: &str,
        name: &str,
        desired: i32,
        task_definition: &str,
        tags: &[(&str, &str)],
    ) -> &mut crate::model::service::ServiceSnapshot {
        self.services.push(crate::model::service::ServiceSnapshot {
            cluster: cluster.into(),
            name: name.into(),
            arn: format!("arn:aws:ecs:us-east-1:123456789012:service/{cluster}/{name}"),
            status: "ACTIVE".into(),
            desired,
            task_definition: task_definition.into(),
            tags: self::tags(tags),
            ..Default::default()
        });
        let at = self.services.len() - 1;
        &mut self.services[at]
    }
}

/// AWS in memory: every port of the core, over plain data, recording each call by the name the
/// SDK would give it (`ECS.DescribeServices`...), so a whole flow runs in a unit test and its
/// calls can be asserted as against the emulator.
#[derive(Default)]
pub struct FakeAws {
    pub calls: crate::aws::CallLog,
    pub state: std::sync::Mutex<FakeState>,
}

/// What [`FakeAws`] holds.
#[derive(Debug, Default)]
pub struct FakeState {
    pub services: Vec<crate::model::service::ServiceSnapshot>,
    /// Recently stopped tasks, by service name.
    pub stops: std::collections::BTreeMap<String, Vec<crate::events::EcsTaskStateChange>>,
    /// Tags by task ARN.
    pub task_tags: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// Scalable target bounds by resource id.
    pub bounds: std::collections::BTreeMap<String, (i32, i32)>,
    pub awslogs: std::collections::BTreeMap<String, Vec<crate::model::revision::AwsLogs>>,
    /// Task-definition tags as the task-watcher reads them, by task-definition ARN.
    pub definition_tags:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// The `startedBy` each RunTask asked for.
    pub run_started_by: Vec<String>,
    /// (topic, notification) in publishing order.
    pub published: Vec<(String, crate::notify::Notification)>,
    /// Client tokens of the tasks run again.
    pub runs: Vec<String>,
    /// The tags each RunTask asked for.
    pub run_tags: Vec<std::collections::BTreeMap<String, String>>,
    /// When set, RunTask fails with this AWS error code (HTTP 400).
    pub run_fails_with: Option<&'static str>,
    /// Metric alarms: name -> (cluster, service, actions enabled).
    pub alarms: std::collections::BTreeMap<String, (String, String, bool)>,
    /// What a task of each task definition is billed for.
    pub sizes: std::collections::BTreeMap<String, crate::model::price::TaskSize>,
    /// Fargate's prices by region, as the Price List answers them.
    pub prices: std::collections::BTreeMap<String, crate::model::price::FargatePrices>,
    /// Alarm tags by alarm ARN.
    pub alarm_tags: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    /// State-change times by alarm name.
    pub history: std::collections::BTreeMap<String, Vec<chrono::DateTime<chrono::Utc>>>,
    /// Task-definition revisions and their tags, by ARN (deregistered ones are removed).
    pub revisions: std::collections::BTreeMap<
        String,
        (
            crate::aws::ecs::Revision,
            std::collections::BTreeMap<String, String>,
        ),
    >,
    /// The stopped tasks of a deployment, by deployment id.
    pub deployment_stops: std::collections::BTreeMap<String, Vec<crate::model::task::StoppedTask>>,
    /// When set, reading a deployment's stopped tasks fails with this AWS error code.
    pub deployment_stops_fail_with: Option<&'static str>,
    /// Scalable targets' suspended state by resource id (absent: nothing suspended).
    pub suspended: std::collections::BTreeMap<String, crate::model::scaling::Suspended>,
    /// Alarm actions (ARNs) by alarm name (absent: none).
    pub alarm_actions: std::collections::BTreeMap<String, Vec<String>>,
    /// Calls that fail, by the name they are recorded under (`CloudWatch.DisableAlarmActions`),
    /// with the AWS error code they fail with (HTTP 400); they change nothing.
    pub failing: std::collections::BTreeMap<&'static str, &'static str>,
    /// Service deployments by ARN (gated strategies).
    #[cfg(feature = "deploy")]
    pub service_deployments:
        std::collections::BTreeMap<String, crate::model::deployment::ServiceDeploymentBrief>,
    /// One-shot schedules created.
    #[cfg(feature = "deploy")]
    pub schedules: Vec<crate::aws::scheduler::OneShot>,
    /// Metric datapoints (the weekly account reads them back).
    #[cfg(feature = "weekly")]
    pub points: Vec<crate::weekly::fake::Point>,
    /// What the deploy-gate's reads find.
    #[cfg(feature = "gate")]
    pub gate: crate::gate::fake::GateWorld,
}

impl FakeAws {
    pub(crate) fn call(&self, name: &str) {
        self.calls.record(name.to_string());
    }

    /// Records the call, then fails it when `FakeState::failing` says so.
    pub(crate) fn call_or_fail(&self, name: &'static str) -> crate::error::Result<()> {
        self.call(name);
        match self.with(|s| s.failing.get(name).copied()) {
            Some(code) => {
                let op = name.rsplit('.').next().unwrap_or(name);
                Err(aws_error(op, code))
            }
            None => Ok(()),
        }
    }

    /// Reads or changes the state.
    pub fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        match self.state.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// A service by name.
    pub fn service(&self, name: &str) -> Option<crate::model::service::ServiceSnapshot> {
        self.with(|s| s.services.iter().find(|x| x.name == name).cloned())
    }

    /// The notifications published so far.
    pub fn published(&self) -> Vec<crate::notify::Notification> {
        self.with(|s| s.published.iter().map(|(_, n)| n.clone()).collect())
    }
}

/// An AWS error as the SDK reports a service error of `operation`: `code`, HTTP 400.
pub fn aws_error(operation: &'static str, code: &str) -> crate::error::Error {
    crate::error::Error::aws(operation, service_error(code, 400))
}

/// A service error with `code` and HTTP `status`, exactly as the SDK hands it over.
pub fn service_error(
    code: &str,
    status: u16,
) -> aws_smithy_runtime_api::client::result::SdkError<
    aws_sdk_ecs::operation::run_task::RunTaskError,
    aws_smithy_runtime_api::client::orchestrator::HttpResponse,
> {
    use aws_sdk_ecs::operation::run_task::RunTaskError;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_types::error::ErrorMetadata;
    let meta = ErrorMetadata::builder()
        .code(code)
        .message("as AWS says it")
        .build();
    let raw = HttpResponse::new(
        status
            .try_into()
            .unwrap_or_else(|_| panic!("{status} is not an HTTP status")),
        aws_smithy_types::body::SdkBody::empty(),
    );
    SdkError::service_error(RunTaskError::generic(meta), raw)
}

/// The ARN of a fake alarm, by name (`FakeState::alarms` holds names).
pub fn alarm_arn(name: &str) -> String {
    format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}")
}

mod fake_ports {
    use std::collections::BTreeMap;

    use super::FakeAws;
    use crate::aws::CallLog;
    use crate::error::Result;
    use crate::model::service::ServiceSnapshot;
    use crate::notify::Notification;
    use crate::ports::{Calls, Publish, ReadServices, TagService};

    impl Calls for FakeAws {
        fn calls(&self) -> &CallLog {
            &self.calls
        }
    }

    impl Publish for FakeAws {
        async fn publish(&self, topic_arn: &str, n: &Notification) -> Result<String> {
            self.call("SNS.Publish");
            self.with(|s| {
                s.published.push((topic_arn.to_string(), n.clone()));
                Ok(format!("message-{}", s.published.len()))
            })
        }
    }

    impl ReadServices for FakeAws {
        async fn services(&self, cluster: &str, names: &[String]) -> Result<Vec<ServiceSnapshot>> {
            self.call("ECS.DescribeServices");
            let cluster = crate::model::arn::cluster_name(cluster).to_string();
            Ok(self.with(|s| {
                s.services
                    .iter()
                    // DescribeServices takes names or ARNs.
                    .filter(|x| {
                        x.cluster == cluster && (names.contains(&x.name) || names.contains(&x.arn))
                    })
                    .cloned()
                    .collect()
            }))
        }
    }

    impl FakeAws {
        pub(crate) async fn find_tagged(
            &self,
            key: &str,
            values: &[String],
        ) -> Result<Vec<crate::model::service::TaggedService>> {
            self.call("Resource Groups Tagging API.GetResources");
            Ok(self.with(|s| {
                s.services
                    .iter()
                    .filter(|x| {
                        x.tags
                            .get(key)
                            .is_some_and(|v| values.is_empty() || values.contains(v))
                    })
                    .map(|x| crate::model::service::TaggedService {
                        arn: x.arn.clone(),
                        tags: x.tags.clone(),
                    })
                    .collect()
            }))
        }
    }

    impl TagService for FakeAws {
        async fn tag_service(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
            self.call_or_fail("ECS.TagResource")?;
            self.with(|s| {
                for x in s.services.iter_mut().filter(|x| x.arn == arn) {
                    x.tags.extend(tags.clone());
                }
            });
            Ok(())
        }
    }

    impl FakeAws {
        pub(crate) async fn tags_of_alarm(&self, arn: &str) -> Result<BTreeMap<String, String>> {
            self.call("CloudWatch.ListTagsForResource");
            Ok(self.with(|s| s.alarm_tags.get(arn).cloned().unwrap_or_default()))
        }
    }
}
