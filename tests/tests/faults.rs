//! Faults at the wire: every function, in process, through the fault-injecting proxy in front of
//! the emulator. A clean run records the calls each scenario makes; then each operation in turn
//! gets a fault, and the end state in the emulator must be the clean run's.

use std::collections::{BTreeMap, BTreeSet};

use autopilot_core::alarms::{AlarmNotifier, AlarmNotifierConfig};
use autopilot_core::deploy::{DeployTarget, Deployer, DeployerConfig, Strategy};
use autopilot_core::offhours::calendar::{parse_windows, Calendar};
use autopilot_core::offhours::{OffHours, OffHoursConfig, ServiceRef};
use autopilot_core::tasks::{CrashLoopAction, TaskWatcher, TaskWatcherConfig};
use autopilot_core::Error;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use integration_tests::faults::Seen;
use integration_tests::{sample_event, Emulator, Fault, FaultProxy, Rule, Stack};
use serde_json::{json, Value};

const DIGEST: &str = "sha256:bbbb6e7bb4b4f7e2a1d3c5b7e9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7";
const ELB: &str = "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/0123456789abcdef)";
const NIGHT: &str = "2026-11-16T22:00:00Z";
const MORNING: &str = "2026-11-17T08:00:00Z";

/// Calls that change something: a faulted run may make each no more often than a clean one.
const WRITES: &[&str] = &[
    "ECS.RegisterTaskDefinition",
    "ECS.DeregisterTaskDefinition",
    "ECS.UpdateService",
    "ECS.TagResource",
    "ECS.UntagResource",
    "ECS.RunTask",
    "Application Auto Scaling.RegisterScalableTarget",
    "CloudWatch.DisableAlarmActions",
    "CloudWatch.EnableAlarmActions",
    "CloudWatch.TagResource",
    "CloudWatch.UntagResource",
    "SNS.Publish",
];

/// A whole job of one function, in the emulator.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    /// A pin-digest push, then its deployment's completion (with pruning).
    Deploy,
    /// Three failing stops of a service: two alerts, then a crash loop scaled to zero.
    CrashLoop,
    /// A CPU alarm on the service.
    Alarm,
    /// A night and a morning of a service with auto scaling and an alarm.
    Night,
}

/// What a run did: each invocation's result, the emulator's end state, the requests seen.
struct Played {
    results: Vec<Result<Value, Error>>,
    end: String,
    seen: Vec<Seen>,
}

fn rule_for(op: &str, i: usize) -> Rule {
    let fault = [
        Fault::Throttle,
        Fault::Http500,
        Fault::Http503,
        Fault::Reset,
    ][i % 4]
        .clone();
    Rule::once(op, fault)
}

async fn scalable(stack: &Stack, bounds: Option<(i32, i32)>) -> Option<(i32, i32)> {
    let aas = aws_sdk_applicationautoscaling::Client::new(&stack.sdk);
    let id = format!("service/{}/{}", stack.cluster, stack.service);
    if let Some((min, max)) = bounds {
        aas.register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(min)
            .max_capacity(max)
            .send()
            .await
            .expect("RegisterScalableTarget");
    }
    let out = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(&id)
        .send()
        .await
        .expect("DescribeScalableTargets");
    out.scalable_targets()
        .first()
        .map(|t| (t.min_capacity(), t.max_capacity()))
}

/// A title with the emulator's random task ids left out (`task 15256d20` is `task <id>`).
fn without_ids(title: &str) -> String {
    title
        .split(' ')
        .map(|w| {
            if w.len() >= 8 && w.chars().all(|c| c.is_ascii_hexdigit()) {
                "<id>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The emulator's state a scenario changes, as one comparable line.
async fn end_state(stack: &Stack) -> String {
    let service = stack.describe_service().await;
    let tags: BTreeMap<String, String> = service
        .tags()
        .iter()
        .filter(|t| {
            // Stamps of when things happened differ between runs; their presence does not.
            !matches!(
                t.key(),
                Some("autopilot:crash-loop-alerted-at" | "autopilot:crash-loop-stopped-at")
            )
        })
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect();
    let (td, _) = stack
        .describe_task_definition(service.task_definition().unwrap_or_default())
        .await;
    let image = td
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some("app"))
        .and_then(|c| c.image())
        .unwrap_or_default()
        .to_string();
    let cw = aws_sdk_cloudwatch::Client::new(&stack.sdk);
    let alarms: Vec<(String, bool)> = cw
        .describe_alarms()
        .send()
        .await
        .expect("DescribeAlarms")
        .metric_alarms()
        .iter()
        .map(|a| {
            (
                a.alarm_name().unwrap_or_default().to_string(),
                a.actions_enabled().unwrap_or(false),
            )
        })
        .collect();
    let chat: BTreeSet<String> = stack
        .notifications()
        .await
        .iter()
        .map(|n| without_ids(n["content"]["title"].as_str().unwrap_or_default()))
        .collect();
    format!(
        "desired={} bounds={:?} image={image} revisions={} tags={tags:?} alarms={alarms:?} chat={chat:?}",
        service.desired_count(),
        scalable(stack, None).await,
        stack.revisions().await.len(),
    )
}

/// Plays a scenario on a reset emulator, the function's clients going through a proxy with
/// `rules`.
async fn play(emu: &Emulator, scenario: Scenario, rules: Vec<Rule>) -> Played {
    emu.reset();
    let stack = Stack::create(emu, "dev", "web").await;
    let proxy = FaultProxy::start(&emu.endpoint, 7);
    for r in rules {
        proxy.add(r);
    }
    let (clients, _) = stack.clients_via(&proxy.url);
    let mut results = vec![];
    match scenario {
        Scenario::Deploy => {
            let deployer = Deployer::new(
                clients,
                DeployerConfig {
                    targets: vec![DeployTarget {
                        repository: "web".into(),
                        tags: vec!["v*".into()],
                        cluster: stack.cluster.clone(),
                        service: stack.service.clone(),
                        container: Some("app".into()),
                        strategy: Strategy::PinDigest,
                    }],
                    topic_arn: stack.topic_arn.clone(),
                    dry_run: false,
                    keep_revisions: Some(1),
                },
            );
            let mut push = sample_event("deployer/ecr-push-release-tag.json");
            push["detail"]["repository-name"] = json!("web");
            push["detail"]["image-digest"] = json!(DIGEST);
            results.push(deployer.handle(push).await);
            let mut done = sample_event("deployer/ecs-deployment-completed.json");
            done["resources"] = json!([stack.service_arn]);
            done["detail"]["deploymentId"] = json!(stack.deployment_id().await.unwrap_or_default());
            results.push(deployer.handle(done).await);
        }
        Scenario::CrashLoop => {
            stack.register_scalable_target(2, 10).await;
            let watcher = TaskWatcher::new(
                clients,
                TaskWatcherConfig {
                    topic_arn: stack.topic_arn.clone(),
                    crash_loop_threshold: 3,
                    crash_loop_window_minutes: 15,
                    crash_loop_action: CrashLoopAction::ScaleToZero,
                    max_restarts: 3,
                    restart_network: None,
                    dry_run: false,
                },
            );
            for _ in 0..3 {
                let task = stack.stopped_service_task(ELB).await;
                let mut e = sample_event("task-watcher/elb-health-check.json");
                e["time"] =
                    json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                e["resources"] = json!([task]);
                e["detail"]["taskArn"] = json!(task);
                e["detail"]["clusterArn"] = json!(stack.cluster_arn());
                e["detail"]["taskDefinitionArn"] = json!(stack.task_definition);
                results.push(watcher.handle(e).await);
            }
        }
        Scenario::Alarm => {
            stack.put_cpu_alarm("dev-web-cpu", "web", &[]).await;
            let notifier = AlarmNotifier::new(
                clients,
                AlarmNotifierConfig {
                    topic_arn: stack.topic_arn.clone(),
                    severity_topics: BTreeMap::new(),
                    flap_threshold: 4,
                    flap_window_minutes: 30,
                },
            );
            let mut e = sample_event("alarm-notifier/cpu-alarm.json");
            e["detail"]["alarmName"] = json!("dev-web-cpu");
            e["resources"] = json!(["arn:aws:cloudwatch:us-east-1:123456789012:alarm:dev-web-cpu"]);
            e["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] =
                json!({"ClusterName": "dev", "ServiceName": "web"});
            results.push(notifier.handle(e).await);
        }
        Scenario::Night => {
            scalable(&stack, Some((2, 10))).await;
            stack.put_cpu_alarm("dev-web-cpu", "web", &[]).await;
            let off = OffHours::new(clients, off_hours_config(&stack));
            for time in [NIGHT, MORNING] {
                results.push(off.handle(tick(time)).await);
            }
        }
    }
    Played {
        results,
        end: end_state(&stack).await,
        seen: proxy.seen(),
    }
}

fn off_hours_config(stack: &Stack) -> OffHoursConfig {
    OffHoursConfig {
        calendar: Calendar {
            windows: parse_windows("Mon-Fri 07:00-19:00").expect("windows"),
            tz: chrono_tz::UTC,
            holidays: vec![],
        },
        targets: vec![ServiceRef {
            cluster: stack.cluster.clone(),
            service: stack.service.clone(),
        }],
        selection: None,
        topic_arn: stack.topic_arn.clone(),
        dry_run: false,
        price_vcpu_hour: 0.04048,
        price_gb_hour: 0.004445,
        tick_minutes: 15,
    }
}

fn tick(time: &str) -> Value {
    json!({"version": "0", "id": format!("tick-{time}"), "detail-type": "Scheduled Event",
           "source": "aws.events", "account": "123456789012", "time": time, "region": "us-east-1",
           "resources": ["arn:aws:events:us-east-1:123456789012:rule/off-hours"], "detail": {}})
}

fn writes(seen: &[Seen]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for s in seen.iter().filter(|s| s.forwarded) {
        if WRITES.contains(&s.operation.as_str()) {
            *counts.entry(s.operation.clone()).or_default() += 1;
        }
    }
    counts
}

/// Each operation of the scenario in turn gets one transient fault (throttling, 500, 503, a
/// dropped connection): the run must succeed, end as the clean run did, and send no write more
/// often than the clean run.
async fn transient_faults_are_absorbed(scenario: Scenario) {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let clean = play(&emu, scenario, vec![]).await;
    for r in &clean.results {
        assert!(r.is_ok(), "{scenario:?}: the clean run failed: {r:?}");
    }
    let operations: BTreeSet<String> = clean.seen.iter().map(|s| s.operation.clone()).collect();
    assert!(!operations.is_empty());
    for (i, op) in operations.iter().enumerate() {
        let faulted = play(&emu, scenario, vec![rule_for(op, i)]).await;
        let caught = faulted.seen.iter().filter(|s| s.fault.is_some()).count();
        assert_eq!(caught, 1, "{scenario:?} {op}: the fault was injected once");
        for r in &faulted.results {
            assert!(
                r.is_ok(),
                "{scenario:?} {op}: a transient fault must be absorbed: {r:?}"
            );
        }
        assert_eq!(
            faulted.end, clean.end,
            "{scenario:?} {op}: the same end state"
        );
        for (write, n) in writes(&faulted.seen) {
            let clean_n = writes(&clean.seen).get(&write).copied().unwrap_or(0);
            assert!(
                n <= clean_n,
                "{scenario:?} {op}: {write} reached the emulator {n} times, {clean_n} without the fault"
            );
        }
    }
}

#[tokio::test]
async fn the_deployer_absorbs_a_transient_fault_on_any_call() {
    transient_faults_are_absorbed(Scenario::Deploy).await;
}

#[tokio::test]
async fn the_task_watcher_absorbs_a_transient_fault_on_any_call() {
    transient_faults_are_absorbed(Scenario::CrashLoop).await;
}

#[tokio::test]
async fn the_alarm_notifier_absorbs_a_transient_fault_on_any_call() {
    transient_faults_are_absorbed(Scenario::Alarm).await;
}

#[tokio::test]
async fn off_hours_absorbs_a_transient_fault_on_any_call() {
    transient_faults_are_absorbed(Scenario::Night).await;
}
