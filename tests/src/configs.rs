//! The four functions configured for a [`Stack`], and the events they take, as the fault and
//! burst tests use them: one place, so each test says only what differs.

use std::collections::BTreeMap;

use autopilot_core::alarms::AlarmNotifierConfig;
use autopilot_core::deploy::{DeployTarget, DeployerConfig, Strategy};
use autopilot_core::offhours::calendar::{parse_windows, Calendar};
use autopilot_core::offhours::{OffHoursConfig, ServiceRef};
use autopilot_core::tasks::{CrashLoopAction, RestartNetwork, TaskWatcherConfig};
use serde_json::{json, Value};

use crate::{sample_event, Stack};

/// A stop reason of a failing ELB health check, as ECS writes it.
pub const ELB: &str = "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef)";

impl Stack {
    /// The deployer of repository `web` to the stack's service (pin-digest, tags `v*`).
    pub fn deployer_config(&self, keep_revisions: Option<u32>) -> DeployerConfig {
        DeployerConfig {
            targets: vec![DeployTarget {
                repository: "web".into(),
                tags: vec!["v*".into()],
                cluster: self.cluster.clone(),
                service: self.service.clone(),
                container: Some("app".into()),
                strategy: Strategy::PinDigest,
            }],
            fleet: false,
            topic_arn: self.topic_arn.clone(),
            dry_run: false,
            keep_revisions,
            reminders: None,
        }
    }

    /// The task-watcher: 3 failing stops in 15 minutes make a crash loop; restarts run in the
    /// stack's subnet and group.
    pub fn task_watcher_config(&self, action: CrashLoopAction) -> TaskWatcherConfig {
        TaskWatcherConfig {
            topic_arn: self.topic_arn.clone(),
            crash_loop_threshold: 3,
            crash_loop_window_minutes: 15,
            crash_loop_action: action,
            max_restarts: 3,
            restart_network: Some(RestartNetwork {
                subnets: vec![self.subnet.clone()],
                security_groups: vec![self.security_group.clone()],
                assign_public_ip: false,
            }),
            dry_run: false,
        }
    }

    /// The alarm-notifier to the stack's topic.
    pub fn alarm_notifier_config(&self) -> AlarmNotifierConfig {
        AlarmNotifierConfig {
            topic_arn: self.topic_arn.clone(),
            severity_topics: BTreeMap::new(),
            flap_threshold: 4,
            flap_window_minutes: 30,
        }
    }

    /// off-hours for the stack's service, Mon-Fri 07:00-19:00 UTC.
    pub fn off_hours_config(&self) -> OffHoursConfig {
        OffHoursConfig {
            calendar: Calendar {
                windows: parse_windows("Mon-Fri 07:00-19:00").expect("windows"),
                tz: autopilot_core::offhours::calendar::Zone::utc(),
                holidays: vec![],
            },
            targets: vec![ServiceRef {
                cluster: self.cluster.clone(),
                service: self.service.clone(),
            }],
            selection: None,
            topic_arn: self.topic_arn.clone(),
            dry_run: false,
            tick_minutes: 15,
            concurrency: 10,
            alarm_prefix: None,
        }
    }

    /// A task-watcher sample pointed at `task` of the stack, stamped now.
    pub fn stop_event(&self, sample: &str, task: &str) -> Value {
        let mut e = sample_event(&format!("task-watcher/{sample}"));
        e["time"] = json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        e["resources"] = json!([task]);
        e["detail"]["taskArn"] = json!(task);
        e["detail"]["clusterArn"] = json!(self.cluster_arn());
        e["detail"]["taskDefinitionArn"] = json!(self.task_definition);
        e
    }

    /// A standalone task opted into restarts, interrupted on Spot: its ARN and its stop event
    /// (launch type FARGATE, so a restart needs no capacity provider).
    pub async fn interrupted_opted_in_task(&self) -> (String, Value) {
        let task = self
            .run_and_stop(
                None,
                Some("family:batch-import"),
                &[("autopilot:restart", "on-interruption")],
                1,
                "Your Spot Task was interrupted.",
            )
            .await
            .remove(0);
        let mut e = self.stop_event("spot-interruption.json", &task);
        e["detail"]["launchType"] = json!("FARGATE");
        if let Some(d) = e["detail"].as_object_mut() {
            d.remove("capacityProviderName");
        }
        (task, e)
    }

    /// The stack service's Application Auto Scaling bounds, set first when `bounds` is given.
    pub async fn scalable(&self, bounds: Option<(i32, i32)>) -> Option<(i32, i32)> {
        if let Some((min, max)) = bounds {
            self.register_scalable_target(min, max).await;
        }
        let out = aws_sdk_applicationautoscaling::Client::new(&self.sdk)
            .describe_scalable_targets()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .resource_ids(format!("service/{}/{}", self.cluster, self.service))
            .send()
            .await
            .expect("DescribeScalableTargets");
        out.scalable_targets()
            .first()
            .map(|t| (t.min_capacity(), t.max_capacity()))
    }

    /// A tag of the stack's service.
    pub async fn service_tag(&self, key: &str) -> Option<String> {
        self.describe_service()
            .await
            .tags()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value().map(str::to_string))
    }

    /// The CPU alarm sample for the stack's alarm `name` on service `web`.
    pub fn alarm_event(&self, name: &str) -> Value {
        let mut e = sample_event("alarm-notifier/cpu-alarm.json");
        e["detail"]["alarmName"] = json!(name);
        e["resources"] = json!([format!(
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
        )]);
        e["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] =
            json!({"ClusterName": self.cluster, "ServiceName": "web"});
        e
    }
}

/// A push of repository `web` with tag, digest and time.
pub fn push_event(tag: &str, digest: &str, time: &str) -> Value {
    let mut push = sample_event("deployer/ecr-push-release-tag.json");
    push["id"] = json!(format!("push-{tag}-{time}"));
    push["time"] = json!(time);
    push["detail"]["repository-name"] = json!("web");
    push["detail"]["image-tag"] = json!(tag);
    push["detail"]["image-digest"] = json!(digest);
    push
}

/// An off-hours scheduled event at `time`.
pub fn tick_event(time: &str) -> Value {
    json!({"version": "0", "id": format!("tick-{time}"), "detail-type": "Scheduled Event",
           "source": "aws.events", "account": "123456789012", "time": time, "region": "us-east-1",
           "resources": ["arn:aws:events:us-east-1:123456789012:rule/off-hours"], "detail": {}})
}
