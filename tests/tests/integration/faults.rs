//! Faults at the wire: every function, in process, through the fault-injecting proxy in front of
//! the emulator. A clean run records the calls each scenario makes; then each operation in turn
//! gets a fault, and the end state in the emulator must be the clean run's.

use std::collections::{BTreeMap, BTreeSet};

use autopilot_core::alarms::AlarmNotifier;
use autopilot_core::deploy::Deployer;
use autopilot_core::offhours::{OffHours, ServiceRef};
use autopilot_core::runtime::Handler;
use autopilot_core::tasks::{CrashLoopAction, TaskWatcher};
use autopilot_core::Error;
use integration_tests::configs::{push_event, tick_event, ELB};
use integration_tests::faults::Seen;
use integration_tests::{sample_event, Emulator, Fault, FaultProxy, Rule, Stack};
use serde_json::{json, Value};

const DIGEST: &str = "sha256:bbbb6e7bb4b4f7e2a1d3c5b7e9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7";
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
                Some(
                    "autopilot:crash-loop-alerted-at"
                        | "autopilot:crash-loop-stopped-at"
                        | "autopilot:crash-loop-task"
                )
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
        stack.scalable(None).await,
        stack.revisions().await.len(),
    )
}

/// A fresh stack on `emu` (reset first) and a fault proxy in front of the emulator.
async fn proxied(emu: &Emulator) -> (Stack, FaultProxy) {
    emu.reset();
    let stack = Stack::create(emu, "dev", "web").await;
    (stack, FaultProxy::start(&emu.endpoint, 7))
}

/// Plays a scenario on a reset emulator, the function's clients going through a proxy with
/// `rules`.
async fn play(emu: &Emulator, scenario: Scenario, rules: Vec<Rule>) -> Played {
    let (stack, proxy) = proxied(emu).await;
    for r in rules {
        proxy.add(r);
    }
    let (clients, _) = stack.clients_via(&proxy.url);
    let mut results = vec![];
    match scenario {
        Scenario::Deploy => {
            let deployer = Deployer::new(clients, stack.deployer_config(Some(1)));
            results.push(deployer.handle(push()).await);
            let mut done = sample_event("deployer/ecs-deployment-completed.json");
            done["resources"] = json!([stack.service_arn]);
            done["detail"]["deploymentId"] = json!(stack.deployment_id().await.unwrap_or_default());
            results.push(deployer.handle(done).await);
        }
        Scenario::CrashLoop => {
            stack.register_scalable_target(2, 10).await;
            let watcher = TaskWatcher::new(
                clients,
                stack.task_watcher_config(CrashLoopAction::ScaleToZero),
            );
            for _ in 0..3 {
                let task = stack.stopped_service_task(ELB).await;
                let e = stack.stop_event("elb-health-check.json", &task);
                results.push(watcher.handle(e).await);
            }
        }
        Scenario::Alarm => {
            stack.put_cpu_alarm("dev-web-cpu", "web", &[]).await;
            let notifier = AlarmNotifier::new(clients, stack.alarm_notifier_config());
            results.push(notifier.handle(stack.alarm_event("dev-web-cpu")).await);
        }
        Scenario::Night => {
            stack.scalable(Some((2, 10))).await;
            stack.put_cpu_alarm("dev-web-cpu", "web", &[]).await;
            let off = OffHours::new(clients, stack.off_hours_config());
            for time in [NIGHT, MORNING] {
                results.push(off.handle(tick_event(time)).await);
            }
        }
    }
    Played {
        results,
        end: end_state(&stack).await,
        seen: proxy.seen(),
    }
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

/// The deployer for the stack's service through `clients`.
fn deployer_for(stack: &Stack, clients: autopilot_core::aws::Clients) -> Deployer {
    Deployer::new(clients, stack.deployer_config(None))
}

fn push() -> Value {
    push_event("v1.4.2", DIGEST, "2026-11-16T02:00:00Z")
}

fn count(seen: &[Seen], operation: &str) -> usize {
    seen.iter()
        .filter(|s| s.forwarded && s.operation == operation)
        .count()
}

#[tokio::test]
async fn a_deploy_whose_retries_ran_out_finishes_on_the_next_delivery_without_a_second_revision() {
    let emu = Emulator::start();
    let (stack, proxy) = proxied(&emu).await;
    let (clients, _) = stack.clients_via(&proxy.url);
    let deployer = deployer_for(&stack, clients);
    // UpdateService throttled past the SDK's retries: the revision is registered, the service
    // not moved, and the invocation fails retryable so Lambda delivers the event again.
    proxy.add(Rule::always("ECS.UpdateService", Fault::Throttle));
    let e = deployer.handle(push()).await.expect_err("retries ran out");
    assert!(e.is_retryable(), "{e}");
    assert_eq!(count(&proxy.seen(), "ECS.RegisterTaskDefinition"), 1);
    proxy.clear();
    let again = deployer.handle(push()).await.expect("the next delivery");
    assert_eq!(again["decisions"][0]["reason"], "deployed", "{again}");
    assert_eq!(
        count(&proxy.seen(), "ECS.RegisterTaskDefinition"),
        1,
        "the revision of the first delivery was found by its tags and used"
    );
    let revisions = stack.revisions().await;
    assert_eq!(
        revisions.len(),
        2,
        "the original and one pinned copy: {revisions:?}"
    );
    assert_eq!(
        stack.describe_service().await.task_definition(),
        again["decisions"][0]["taskDefinitionArn"].as_str()
    );
}

#[tokio::test]
async fn a_registration_whose_answer_is_lost_to_a_timeout_is_not_repeated() {
    let emu = Emulator::start();
    let (stack, proxy) = proxied(&emu).await;
    let (clients, _) = stack.clients_via(&proxy.url);
    let deployer = deployer_for(&stack, clients);
    // AWS registers it; the answer comes after the attempt timeout.
    proxy.add(Rule::once(
        "ECS.RegisterTaskDefinition",
        Fault::Delay(
            integration_tests::stack::FAST_ATTEMPT_TIMEOUT + std::time::Duration::from_millis(700),
        ),
    ));
    let result = deployer.handle(push()).await.expect("deployed");
    assert_eq!(result["decisions"][0]["reason"], "deployed", "{result}");
    assert_eq!(count(&proxy.seen(), "ECS.RegisterTaskDefinition"), 1);
    assert_eq!(stack.revisions().await.len(), 2, "one pinned copy");
}

#[tokio::test]
async fn a_restart_whose_retries_ran_out_is_alerted_and_the_next_delivery_asks_for_the_same_task() {
    let emu = Emulator::start();
    let (stack, proxy) = proxied(&emu).await;
    let (clients, _) = stack.clients_via(&proxy.url);
    let watcher = TaskWatcher::new(clients, stack.task_watcher_config(CrashLoopAction::Alert));
    let (task, e) = stack.interrupted_opted_in_task().await;
    proxy.add(Rule::always("ECS.RunTask", Fault::Throttle));
    let err = watcher
        .handle(e.clone())
        .await
        .expect_err("retries ran out");
    assert!(err.is_retryable(), "{err}");
    let chat = stack.notifications().await;
    assert_eq!(chat.len(), 1, "the stop is alerted all the same");
    assert!(
        chat[0]["content"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("The restart failed") && d.contains("ThrottlingException")),
        "{}",
        chat[0]
    );
    proxy.clear();
    let again = watcher.handle(e).await.expect("the next delivery");
    assert_eq!(again["actions"], json!(["restart", "alert"]), "{again}");
    // Every RunTask asked for (throttled or not) carried the same client token, which makes
    // AWS start one task for them all (the emulator ignores it: the request is what is checked).
    let tokens: BTreeSet<String> = proxy.request_values("ECS.RunTask", "clientToken");
    let task_id = task.rsplit('/').next().unwrap_or_default();
    assert_eq!(tokens, BTreeSet::from([format!("restart-{task_id}")]));
    assert!(
        proxy
            .seen()
            .iter()
            .filter(|s| s.operation == "ECS.RunTask")
            .count()
            >= 4
    );
}

#[tokio::test]
async fn a_crash_loop_whose_scale_down_ran_out_of_retries_is_finished_from_its_record() {
    let emu = Emulator::start();
    let (stack, proxy) = proxied(&emu).await;
    stack.register_scalable_target(2, 10).await;
    let (clients, _) = stack.clients_via(&proxy.url);
    let watcher = TaskWatcher::new(
        clients,
        stack.task_watcher_config(CrashLoopAction::ScaleToZero),
    );
    let mut last = Value::Null;
    for i in 0..3 {
        let task = stack.stopped_service_task(ELB).await;
        let mut e = stack.stop_event("elb-health-check.json", &task);
        e["time"] = json!("2026-11-28T10:00:00Z");
        if i < 2 {
            watcher.handle(e.clone()).await.expect("an alert");
        }
        last = e;
    }
    // The third stop makes the loop: the alert and the capacity are recorded, the scalable
    // target pinned, then setting the desired count is throttled past the retries.
    proxy.add(Rule::always("ECS.UpdateService", Fault::Throttle));
    let e = watcher
        .handle(last.clone())
        .await
        .expect_err("retries ran out");
    assert!(e.is_retryable(), "{e}");
    proxy.clear();
    let again = watcher.handle(last).await.expect("the next delivery");
    assert_eq!(
        again["actions"],
        json!(["crash-loop", "scale-to-zero"]),
        "{again}"
    );
    let service = stack.describe_service().await;
    assert_eq!(service.desired_count(), 0);
    assert_eq!(
        stack.service_tag("autopilot:restore").await.as_deref(),
        Some("desired=2 min=2 max=10"),
        "the record was not overwritten"
    );
    assert_eq!(stack.scalable(None).await, Some((0, 0)));
}

#[tokio::test]
async fn a_sleep_whose_retries_ran_out_is_finished_by_the_next_tick_with_the_original_capacity() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let (stack, proxy) = proxied(&emu).await;
    stack.scalable(Some((2, 10))).await;
    let (clients, _) = stack.clients_via(&proxy.url);
    let off = OffHours::new(clients, stack.off_hours_config());
    // Killed after the restore tag is written, before scaling.
    proxy.add(Rule::always(
        "Application Auto Scaling.RegisterScalableTarget",
        Fault::Throttle,
    ));
    let night = off
        .handle(tick_event(NIGHT))
        .await
        .expect("the tick reports");
    assert_eq!(night["services"][0]["action"], "error", "{night}");
    assert_eq!(night["services"][0]["error"]["retryable"], true, "{night}");
    proxy.clear();
    let later = off
        .handle(tick_event("2026-11-16T22:15:00Z"))
        .await
        .expect("next tick");
    assert_eq!(later["services"][0]["action"], "sleep", "{later}");
    assert_eq!(stack.describe_service().await.desired_count(), 0);
    // Between the two wake-up steps: the bounds back, the desired count throttled.
    proxy.add(Rule::always("ECS.UpdateService", Fault::Throttle));
    let morning = off
        .handle(tick_event(MORNING))
        .await
        .expect("the tick reports");
    assert_eq!(morning["services"][0]["action"], "error", "{morning}");
    proxy.clear();
    let later = off
        .handle(tick_event("2026-11-17T08:15:00Z"))
        .await
        .expect("next tick");
    assert_eq!(later["services"][0]["action"], "wake", "{later}");
    assert_eq!(stack.describe_service().await.desired_count(), 2);
    assert_eq!(
        stack.scalable(None).await,
        Some((2, 10)),
        "the original capacity"
    );
}

/// What reached chat, each title and description in one string.
async fn chat_text(stack: &Stack) -> Vec<String> {
    stack
        .notifications()
        .await
        .iter()
        .map(|n| {
            format!(
                "{} {} {}",
                n["content"]["title"], n["content"]["description"], n["content"]["nextSteps"]
            )
        })
        .collect()
}

#[tokio::test]
async fn access_denied_is_not_retried_names_the_permission_and_reaches_chat() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);

    // The deployer: UpdateService denied.
    let (stack, proxy) = proxied(&emu).await;
    let (clients, _) = stack.clients_via(&proxy.url);
    proxy.add(Rule::always("ECS.UpdateService", Fault::AccessDenied));
    let e = deployer_for(&stack, clients)
        .handle(push())
        .await
        .expect_err("denied");
    assert!(!e.is_retryable(), "{e}");
    assert!(e.to_string().contains("ecs:UpdateService"), "{e}");
    assert_eq!(
        proxy
            .seen()
            .iter()
            .filter(|s| s.operation == "ECS.UpdateService")
            .count(),
        1,
        "an access denied is not retried"
    );
    let chat = chat_text(&stack).await;
    assert!(
        chat.iter().any(|t| t.contains("ecs:UpdateService")),
        "the channel hears which permission to add: {chat:?}"
    );

    // The task-watcher: the crash loop's TagResource denied; the loop is alerted all the same.
    let (stack, proxy) = proxied(&emu).await;
    let (clients, _) = stack.clients_via(&proxy.url);
    let watcher = TaskWatcher::new(
        clients,
        stack.task_watcher_config(CrashLoopAction::ScaleToZero),
    );
    proxy.add(Rule::always("ECS.TagResource", Fault::AccessDenied));
    let mut last = Value::Null;
    for _ in 0..3 {
        let task = stack.stopped_service_task(ELB).await;
        let e = stack.stop_event("elb-health-check.json", &task);
        last = watcher
            .handle(e)
            .await
            .expect("a denied write is reported, not retried");
    }
    assert_eq!(last["actions"], json!(["crash-loop"]), "{last}");
    assert_eq!(
        stack.describe_service().await.desired_count(),
        2,
        "nothing scaled"
    );
    let chat = chat_text(&stack).await;
    let crash = chat
        .iter()
        .find(|t| t.contains("Crash loop"))
        .expect("the crash loop reached chat");
    assert!(crash.contains("ecs:TagResource"), "{crash}");

    // off-hours: the scale-down denied; the service is reported, the tick does not fail.
    let (stack, proxy) = proxied(&emu).await;
    stack.scalable(Some((2, 10))).await;
    let (clients, _) = stack.clients_via(&proxy.url);
    proxy.add(Rule::always(
        "Application Auto Scaling.RegisterScalableTarget",
        Fault::AccessDenied,
    ));
    let off = OffHours::new(clients, stack.off_hours_config());
    let dusk = off
        .handle(tick_event("2026-11-16T19:00:00Z"))
        .await
        .expect("the tick reports");
    assert_eq!(dusk["services"][0]["action"], "error", "{dusk}");
    assert_eq!(
        dusk["services"][0]["error"],
        json!({"code": "AccessDeniedException", "retryable": false})
    );
    let chat = chat_text(&stack).await;
    assert!(
        chat.iter()
            .any(|t| t.contains("application-autoscaling:RegisterScalableTarget")),
        "{chat:?}"
    );

    // The alarm-notifier: its own Publish denied, so nothing can reach chat: the error says why.
    let (stack, proxy) = proxied(&emu).await;
    stack.put_cpu_alarm("dev-web-cpu", "web", &[]).await;
    let (clients, _) = stack.clients_via(&proxy.url);
    proxy.add(Rule::always("SNS.Publish", Fault::AccessDenied));
    let notifier = AlarmNotifier::new(clients, stack.alarm_notifier_config());
    let mut e = sample_event("alarm-notifier/cpu-alarm.json");
    e["detail"]["alarmName"] = json!("dev-web-cpu");
    e["resources"] = json!(["arn:aws:cloudwatch:us-east-1:123456789012:alarm:dev-web-cpu"]);
    let e = notifier.handle(e).await.expect_err("denied");
    assert!(
        !e.is_retryable() && e.to_string().contains("sns:Publish"),
        "{e}"
    );
}

#[tokio::test]
async fn a_service_deleted_between_read_and_write_is_one_outcome_and_the_others_are_done() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);

    // The deployer, one push for two services; the first vanishes before UpdateService.
    let (stack, proxy) = proxied(&emu).await;
    stack.create_service("api", 1, &[]).await;
    let (clients, _) = stack.clients_via(&proxy.url);
    let mut config = deployer_for(&stack, clients);
    let mut api = config.config.targets[0].clone();
    api.service = "api".into();
    config.config.targets.push(api);
    proxy.add(
        Rule::once("ECS.UpdateService", Fault::NotFound).when_body_contains("\"service\":\"web\""),
    );
    let result = config.handle(push()).await.expect("a per-target outcome");
    let reasons: Vec<(&str, &str)> = result["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .map(|d| {
            (
                d["service"].as_str().unwrap_or_default(),
                d["reason"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [("web", "deploy-failed"), ("api", "deployed")],
        "{result}"
    );
    assert!(
        result["decisions"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("ServiceNotFoundException")),
        "{result}"
    );
    let chat = chat_text(&stack).await;
    assert_eq!(chat.len(), 2, "{chat:?}");
    assert!(
        chat.iter()
            .any(|t| t.contains("Deploying web:") && t.contains("dev/api")),
        "{chat:?}"
    );

    // off-hours, two services; the first vanishes before its scale-down.
    let (stack, proxy) = proxied(&emu).await;
    stack.create_service("api", 1, &[]).await;
    let (clients, _) = stack.clients_via(&proxy.url);
    let mut config = stack.off_hours_config();
    config.targets.push(ServiceRef {
        cluster: stack.cluster.clone(),
        service: "api".into(),
    });
    proxy.add(
        Rule::once("ECS.UpdateService", Fault::NotFound).when_body_contains("\"service\":\"web\""),
    );
    let off = OffHours::new(clients, config);
    let dusk = off
        .handle(tick_event("2026-11-16T19:00:00Z"))
        .await
        .expect("the tick reports");
    let actions: BTreeMap<String, String> = dusk["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap_or_default().to_string(),
                s["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(actions["web"], "error", "{dusk}");
    assert_eq!(actions["api"], "sleep", "{dusk}");
    assert_eq!(stack.service_named("api").await.desired_count(), 0);
}

#[tokio::test]
async fn a_transition_whose_notification_fails_stands_and_says_so_in_its_result() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let (stack, proxy) = proxied(&emu).await;
    let (clients, _) = stack.clients_via(&proxy.url);
    let off = OffHours::new(clients, stack.off_hours_config());
    proxy.add(Rule::always("SNS.Publish", Fault::Http503));
    let night = off
        .handle(tick_event(NIGHT))
        .await
        .expect("the transition stands");
    assert_eq!(night["services"][0]["action"], "sleep", "{night}");
    assert!(
        night["notificationError"]
            .as_str()
            .is_some_and(|e| e.contains("asleep") && e.contains("ServiceUnavailable")),
        "{night}"
    );
    assert!(night.get("notificationId").is_none());
    assert_eq!(stack.describe_service().await.desired_count(), 0);
    proxy.clear();
    proxy.forget();
    let again = off
        .handle(tick_event("2026-11-16T22:15:00Z"))
        .await
        .expect("next tick");
    assert_eq!(
        again["services"][0]["action"], "none",
        "not redone: {again}"
    );
    assert_eq!(count(&proxy.seen(), "SNS.Publish"), 0);
    assert_eq!(count(&proxy.seen(), "ECS.UpdateService"), 0);
}

#[tokio::test]
async fn the_release_deployer_absorbs_throttling_and_fails_an_access_denied_as_non_retryable() {
    let emu = Emulator::start();
    let (stack, proxy) = proxied(&emu).await;
    proxy.add(Rule::times("ECS.UpdateService", Fault::Throttle, 2));
    proxy.add(Rule::always("ECS.RegisterTaskDefinition", Fault::AccessDenied).from_nth(2));
    let mut env: Vec<(String, String)> = emu
        .env()
        .into_iter()
        .map(|(k, v)| {
            if k == "AWS_ENDPOINT_URL" {
                (k, proxy.url.clone())
            } else {
                (k, v)
            }
        })
        .collect();
    env.push((
        "DEPLOY_TARGETS".into(),
        format!(
            r#"[{{"repository":"web","tags":["v*"],"cluster":"{}","service":"{}","container":"app"}}]"#,
            stack.cluster, stack.service
        ),
    ));
    env.push(("NOTIFY_TOPIC_ARN".into(), stack.topic_arn.clone()));
    let mut second = push();
    second["id"] = json!("another-push");
    second["time"] = json!("2026-11-28T11:00:00Z");
    second["detail"]["image-digest"] = json!(format!("sha256:{}", "c".repeat(64)));
    let run = integration_tests::run_function(
        &integration_tests::release_binary("deployer"),
        "deployer",
        &env,
        vec![push(), second],
        std::time::Duration::from_secs(60),
    );
    assert_eq!(run.invocations.len(), 2, "{}", run.output);
    let first = run.invocations[0]
        .ok()
        .unwrap_or_else(|| panic!("{:?}\n{}", run.invocations[0], run.output));
    assert_eq!(first["decisions"][0]["reason"], "deployed", "{first}");
    assert_eq!(
        count(&proxy.seen(), "ECS.UpdateService"),
        1,
        "two throttled attempts, then one"
    );
    let denied = run.invocations[1]
        .err()
        .unwrap_or_else(|| panic!("{:?}", run.invocations[1]));
    assert_eq!(denied["errorType"], "NonRetryable", "{denied}");
    assert!(
        denied["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("ecs:RegisterTaskDefinition")),
        "{denied}"
    );
}

#[tokio::test]
async fn random_faults_on_a_quarter_of_all_calls_are_absorbed_with_a_fixed_seed() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    for scenario in [Scenario::Night, Scenario::Deploy] {
        let clean = play(&emu, scenario, vec![]).await;
        let faulted = play(&emu, scenario, vec![Rule::randomly(0.25, Fault::Http503)]).await;
        assert!(
            faulted.seen.iter().filter(|s| s.fault.is_some()).count() >= 2,
            "{scenario:?}: the seed injects faults"
        );
        for r in &faulted.results {
            assert!(r.is_ok(), "{scenario:?}: {r:?}");
        }
        assert_eq!(faulted.end, clean.end, "{scenario:?}");
    }
}

#[tokio::test]
async fn a_task_definition_deregistered_or_an_alarm_deleted_midway_is_one_outcome() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);

    // The task-watcher: the stopped task's revision was deregistered before the restart.
    let (stack, proxy) = proxied(&emu).await;
    let watcher = TaskWatcher::new(
        stack.clients_via(&proxy.url).0,
        stack.task_watcher_config(CrashLoopAction::Alert),
    );
    let (_, e) = stack.interrupted_opted_in_task().await;
    proxy.add(Rule::always("ECS.RunTask", Fault::NotFound));
    let result = watcher.handle(e).await.expect("the stop is alerted");
    assert_eq!(result["actions"], json!(["alert"]), "{result}");
    let chat = chat_text(&stack).await;
    assert!(
        chat.iter()
            .any(|t| t.contains("The restart failed") && t.contains("inactive")),
        "{chat:?}"
    );

    // off-hours: the service's alarm deleted between the listing and its mark; the service is
    // an error entry, and the next tick finishes the night.
    let (stack, proxy) = proxied(&emu).await;
    stack.put_cpu_alarm("dev-web-cpu", "web", &[]).await;
    let off = OffHours::new(stack.clients_via(&proxy.url).0, stack.off_hours_config());
    proxy.add(Rule::once("CloudWatch.TagResource", Fault::NotFound));
    let night = off
        .handle(tick_event(NIGHT))
        .await
        .expect("the tick reports");
    assert_eq!(night["services"][0]["action"], "error", "{night}");
    assert_eq!(
        night["services"][0]["error"]["code"], "ResourceNotFound",
        "{night}"
    );
    let later = off
        .handle(tick_event("2026-11-16T22:15:00Z"))
        .await
        .expect("next tick");
    assert_eq!(later["services"][0]["action"], "sleep", "{later}");
    assert_eq!(stack.describe_service().await.desired_count(), 0);
}
