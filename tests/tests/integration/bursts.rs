//! Bursts and duplicates: the same event delivered several times, and many events at once, run
//! as Lambda runs them for the template: as many at a time as its configuration lets Lambda run
//! (one for a function fed by a FIFO queue, read from the template itself), each in one of
//! several function instances ("processes").

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;

use autopilot_core::alarms::AlarmNotifier;
use autopilot_core::deploy::Deployer;
use autopilot_core::offhours::OffHours;
use autopilot_core::runtime::Handler;
use autopilot_core::tasks::{CrashLoopAction, TaskWatcher};
use autopilot_core::Error;
use integration_tests::configs::{push_event, ELB};
use integration_tests::{Emulator, FaultProxy, Stack};
use serde_json::{json, Value};

/// How many events of a function Lambda runs at once in the template's configuration, which is
/// the one a new account gets (no reserved concurrency: a quota of 10 cannot spare any).
///
/// - Fed by an event source mapping from a FIFO queue whose rules all send to one message
///   group: one at a time ("Using Lambda with Amazon SQS": Lambda delivers a group's messages in
///   order, one batch at a time; the batch size here is 1).
/// - Otherwise its reserved concurrency, if any; with none, as many as there are events (the
///   lanes are then bounded by the instances).
fn concurrency(function: &str) -> usize {
    let t = integration_tests::template::translate();
    let r = t["Resources"].as_object().expect("Resources");
    // In one account's scopes: organization scope's off-hours also reads a standard queue of
    // the member accounts' ticks (its own condition), one message per account.
    let mapping = r.values().find(|m| {
        m["Type"] == "AWS::Lambda::EventSourceMapping"
            && m["Properties"]["FunctionName"] == json!({"Ref": function})
            && m["Condition"] != "OffHoursSpokeTicks"
    });
    if let Some(m) = mapping {
        let queue = m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]
            .as_str()
            .expect("the mapping reads a queue of the stack");
        assert_eq!(r[queue]["Properties"]["FifoQueue"], true, "{queue}");
        assert_eq!(m["Properties"]["BatchSize"], 1, "{function}");
        let groups: BTreeSet<&str> = r
            .values()
            .filter(|x| x["Type"] == "AWS::Events::Rule")
            .flat_map(|x| x["Properties"]["Targets"].as_array().into_iter().flatten())
            .filter(|target| target["Arn"] == json!({"Fn::GetAtt": [queue, "Arn"]}))
            .filter_map(|target| target["SqsParameters"]["MessageGroupId"].as_str())
            .collect();
        assert_eq!(groups.len(), 1, "{queue}: {groups:?}");
        return 1;
    }
    r[function]["Properties"]["ReservedConcurrentExecutions"]
        .as_u64()
        .map_or(usize::MAX, |n| n as usize)
}

/// Delivers `events` to `instances` as Lambda would with `concurrency` executions at most: the
/// events are dealt round-robin to that many lanes, each lane one instance handling its events
/// one after another, the lanes at the same time. Returns every result.
async fn deliver<H, F, Fut>(
    instances: Vec<Arc<H>>,
    concurrency: usize,
    events: Vec<Value>,
    handle: F,
) -> Vec<Result<Value, Error>>
where
    H: Send + Sync + 'static,
    F: Fn(Arc<H>, Value) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Result<Value, Error>> + Send + 'static,
{
    let lanes = concurrency.clamp(1, instances.len().max(1));
    let mut dealt: Vec<Vec<Value>> = vec![vec![]; lanes];
    for (i, e) in events.into_iter().enumerate() {
        dealt[i % lanes].push(e);
    }
    let mut set = tokio::task::JoinSet::new();
    for (lane, events) in dealt.into_iter().enumerate() {
        let instance = instances[lane % instances.len()].clone();
        set.spawn(async move {
            let mut out = vec![];
            for e in events {
                out.push(handle(instance.clone(), e).await);
            }
            out
        });
    }
    let mut results = vec![];
    while let Some(lane) = set.join_next().await {
        results.extend(lane.expect("a lane finished"));
    }
    results
}

fn ids(chat: &[Value]) -> Vec<String> {
    chat.iter()
        .map(|n| n["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn titles(chat: &[Value]) -> Vec<String> {
    chat.iter()
        .map(|n| {
            n["content"]["title"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_burst_of_fifty_failing_stops_makes_one_crash_loop_alert_and_at_most_two_others() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "dev", "web").await;
    stack.register_scalable_target(2, 10).await;
    let mut events = vec![];
    for _ in 0..50 {
        let task = stack.stopped_service_task(ELB).await;
        events.push(stack.stop_event("elb-health-check.json", &task));
    }
    let instances: Vec<Arc<TaskWatcher>> = (0..3)
        .map(|_| {
            Arc::new(TaskWatcher::new(
                stack.clients().0,
                stack.task_watcher_config(CrashLoopAction::ScaleToZero),
            ))
        })
        .collect();
    let results = deliver(
        instances,
        concurrency("TaskWatcherFunction"),
        events,
        |w, e| async move { w.handle(e).await },
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let chat = stack.notifications().await;
    let titles = titles(&chat);
    let loops = titles
        .iter()
        .filter(|t| t.starts_with(":red_circle: Crash loop"))
        .count();
    assert_eq!(loops, 1, "{titles:?}");
    assert!(
        chat.len() - loops <= 2,
        "per-stop alerts are bounded by the threshold less one: {titles:?}"
    );
    let service = stack.describe_service().await;
    assert_eq!(service.desired_count(), 0);
    assert_eq!(
        stack.service_tag("autopilot:restore").await.as_deref(),
        Some("desired=2 min=2 max=10"),
        "recorded once, never overwritten"
    );
}

#[tokio::test]
async fn the_same_stop_three_times_asks_for_one_task_and_says_it_under_one_id() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "dev", "web").await;
    let (_, e) = stack.interrupted_opted_in_task().await;
    let proxy = FaultProxy::start(&emu.endpoint, 7);
    let instances: Vec<Arc<TaskWatcher>> = (0..3)
        .map(|_| {
            Arc::new(TaskWatcher::new(
                stack.clients_via(&proxy.url).0,
                stack.task_watcher_config(CrashLoopAction::Alert),
            ))
        })
        .collect();
    // Even all at once (more than the template allows), one task is asked for.
    let results = deliver(
        instances,
        3,
        vec![e.clone(), e.clone(), e],
        |w, e| async move { w.handle(e).await },
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let tokens: BTreeSet<String> = proxy.request_values("ECS.RunTask", "clientToken");
    assert_eq!(
        tokens.len(),
        1,
        "one client token: AWS starts one task for them all"
    );
    let chat = stack.notifications().await;
    assert_eq!(chat.len(), 3);
    assert_eq!(
        ids(&chat).into_iter().collect::<BTreeSet<_>>().len(),
        1,
        "one id: Chatbot shows it once"
    );
}

#[tokio::test]
async fn the_same_alarm_change_three_times_at_once_is_one_message_for_chatbot() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "dev", "web").await;
    stack.put_cpu_alarm("dev-web-cpu", "web", &[]).await;
    let instances: Vec<Arc<AlarmNotifier>> = (0..3)
        .map(|_| {
            Arc::new(AlarmNotifier::new(
                stack.clients().0,
                stack.alarm_notifier_config(),
            ))
        })
        .collect();
    let e = stack.alarm_event("dev-web-cpu");
    let concurrency = concurrency("AlarmNotifierFunction");
    assert!(concurrency >= 3, "the alarm-notifier runs them at once");
    let results = deliver(
        instances,
        concurrency,
        vec![e.clone(), e.clone(), e],
        |n, e| async move { n.handle(e).await },
    )
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let chat = stack.notifications().await;
    assert_eq!(chat.len(), 3);
    assert_eq!(
        ids(&chat).into_iter().collect::<BTreeSet<_>>().len(),
        1,
        "{chat:?}"
    );
}

fn deployer(stack: &Stack) -> Deployer {
    Deployer::new(stack.clients().0, stack.deployer_config(None))
}

#[tokio::test]
async fn the_same_push_three_times_deploys_once() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "dev", "web").await;
    let instances: Vec<Arc<Deployer>> = (0..3).map(|_| Arc::new(deployer(&stack))).collect();
    let p = push_event(
        "v2.0.0",
        &format!("sha256:{}", "b".repeat(64)),
        "2026-11-28T10:00:00Z",
    );
    let results = deliver(
        instances,
        concurrency("DeployerFunction"),
        vec![p.clone(), p.clone(), p],
        |d, e| async move { d.handle(e).await },
    )
    .await;
    let reasons: Vec<String> = results
        .iter()
        .map(|r| {
            r.as_ref().map_or_else(
                |e| format!("error: {e}"),
                |v| {
                    v["decisions"][0]["reason"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                },
            )
        })
        .collect();
    assert_eq!(reasons, ["deployed", "already-running", "already-running"]);
    assert_eq!(stack.revisions().await.len(), 2, "one pinned copy");
    assert_eq!(stack.notifications().await.len(), 1, "one deploy announced");
}

#[tokio::test]
async fn of_two_pushes_in_quick_succession_the_newer_runs_whatever_order_they_arrive_in() {
    let older = push_event(
        "v2.0.0",
        &format!("sha256:{}", "2".repeat(64)),
        "2026-11-28T10:00:00Z",
    );
    let newer = push_event(
        "v2.0.1",
        &format!("sha256:{}", "3".repeat(64)),
        "2026-11-28T10:00:40Z",
    );
    for order in [
        [older.clone(), newer.clone()],
        [newer.clone(), older.clone()],
    ] {
        let emu = Emulator::start();
        let stack = Stack::create(&emu, "dev", "web").await;
        let instances: Vec<Arc<Deployer>> = (0..2).map(|_| Arc::new(deployer(&stack))).collect();
        let results = deliver(
            instances,
            concurrency("DeployerFunction"),
            order.to_vec(),
            |d, e| async move { d.handle(e).await },
        )
        .await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let running = stack.describe_service().await;
        let (td, _) = stack
            .describe_task_definition(running.task_definition().unwrap_or_default())
            .await;
        let image = td.container_definitions()[0]
            .image()
            .unwrap_or_default()
            .to_string();
        assert!(
            image.ends_with(&format!("sha256:{}", "3".repeat(64))),
            "the newer image runs, the older never replaces it: {image}"
        );
    }
}

#[tokio::test]
async fn the_same_tick_three_times_makes_one_transition() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let stack = Stack::create(&emu, "dev", "web").await;
    stack.register_scalable_target(2, 10).await;
    let config = stack.off_hours_config();
    let instances: Vec<Arc<OffHours>> = (0..3)
        .map(|_| Arc::new(OffHours::new(stack.clients().0, config.clone())))
        .collect();
    let tick = json!({"version": "0", "id": "tick", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-11-16T22:00:00Z",
        "region": "us-east-1", "resources": [], "detail": {}});
    let results = deliver(
        instances,
        concurrency("OffHoursFunction"),
        vec![tick.clone(), tick.clone(), tick],
        |o, e| async move { o.handle(e).await },
    )
    .await;
    let actions: Vec<String> = results
        .iter()
        .map(|r| {
            r.as_ref().map_or_else(
                |e| format!("error: {e}"),
                |v| {
                    v["services"][0]["action"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                },
            )
        })
        .collect();
    assert_eq!(actions, ["sleep", "none", "none"]);
    assert_eq!(stack.notifications().await.len(), 1);
    assert_eq!(
        stack.service_tag("autopilot:restore").await.as_deref(),
        Some("desired=2 min=2 max=10 suspended=none")
    );
}
