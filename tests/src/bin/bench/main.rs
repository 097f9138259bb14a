//! `make bench`: figures, not pass/fail. Cold starts of the five functions against the floors,
//! the handlers' cost without AWS (criterion), AWS calls and wall time per scenario against the
//! emulator, off-hours over 10/100/500 services, a fleet at AWS-like latency, and organization
//! mode with 0/10/50 member accounts that have nothing to do. Printed, and written to
//! `docs/benchmarks.md`.

mod coldstart;
mod handlers;
mod report;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use autopilot_core::alarms::AlarmNotifier;
use autopilot_core::deploy::{DeployTarget, Deployer, DeployerConfig, Strategy};
use autopilot_core::gate::{DeployGate, GateConfig, GateSettings};
use autopilot_core::offhours::{OffHours, OffHoursConfig, TagSelection};
use autopilot_core::runtime::Handler;
use autopilot_core::tasks::{CrashLoopAction, TaskWatcher};
use integration_tests::configs::{tick_event, ELB};
use integration_tests::{Emulator, Fault, FaultProxy, Rule, Stack};
use report::{ms, percentile, Report};
use serde_json::{json, Value};

fn push(tag: &str, digest: &str, minute: u32) -> Value {
    json!({
        "version": "0", "id": format!("bench-{minute}"), "detail-type": "ECR Image Action", "source": "aws.ecr",
        "account": "123456789012", "time": format!("2026-11-16T{:02}:{:02}:00Z", minute / 60, minute % 60),
        "region": "us-east-1", "resources": [],
        "detail": {"result": "SUCCESS", "repository-name": "web", "image-digest": digest,
                   "action-type": "PUSH", "image-tag": tag}
    })
}

#[tokio::main]
async fn main() {
    let starts: usize = std::env::var("BENCH_STARTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    // BENCH_ONLY=coldstart,handlers,...: a part of the run (then docs/benchmarks.md is not
    // rewritten, as it would be incomplete).
    let only = std::env::var("BENCH_ONLY").ok();
    let wants = |part: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|p| p == part))
    };
    let mut report = Report::default();
    if wants("coldstart") {
        coldstart::run(&mut report, starts).await;
    }
    if wants("handlers") {
        handlers::run(&mut report);
    }
    if wants("scenarios") {
        scenarios(&mut report).await;
    }
    if wants("offhours") {
        off_hours(&mut report).await;
    }
    if wants("fleet") {
        fleet_latency(&mut report).await;
    }
    if wants("organization") {
        organization(&mut report).await;
    }
    if only.is_some() {
        return;
    }
    let path = integration_tests::workspace_root()
        .join("docs")
        .join("benchmarks.md");
    match report.write(&path) {
        Ok(()) => println!("\nwritten to {}", path.display()),
        Err(e) => eprintln!("\ncannot write {}: {e}", path.display()),
    }
}

/// One scenario's cost: AWS calls per event and wall time, over `rounds` events.
struct Cost {
    calls: Vec<usize>,
    walls: Vec<Duration>,
}

impl Cost {
    fn new() -> Cost {
        Cost {
            calls: vec![],
            walls: vec![],
        }
    }

    fn row(&self, report: &mut Report, scenario: &str) {
        let n = self.calls.len().max(1);
        report.row(&[
            scenario,
            &format!("{:.1}", self.calls.iter().sum::<usize>() as f64 / n as f64),
            &ms(percentile(&self.walls, 0.5)),
            &ms(percentile(&self.walls, 0.95)),
            &n.to_string(),
        ]);
    }
}

/// Times `work` and counts the calls it made on `calls`.
async fn measure<F, T>(cost: &mut Cost, calls: &autopilot_core::aws::CallLog, work: F) -> T
where
    F: std::future::Future<Output = T>,
{
    calls.take();
    let t = Instant::now();
    let out = work.await;
    cost.walls.push(t.elapsed());
    cost.calls.push(calls.snapshot().len());
    out
}

async fn scenarios(report: &mut Report) {
    report.heading(
        "AWS calls and wall time per event (in process, against the emulator on loopback)",
    );
    report.row(&[
        "scenario",
        "AWS calls / event",
        "wall p50",
        "wall p95",
        "events",
    ]);
    const ROUNDS: u32 = 30;

    // Deployer: pin-digest deploys, duplicate deliveries, follow-tag deploys.
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "bench", "web").await;
    let target = DeployTarget {
        tags: vec!["*".into()],
        ..stack.deployer_config(None).targets.remove(0)
    };
    let config = |target: DeployTarget| DeployerConfig {
        targets: vec![target],
        fleet: false,
        topic_arn: stack.topic_arn.clone(),
        dry_run: false,
        keep_revisions: None,
        reminders: None,
    };
    let deployer = Deployer::new(stack.clients().0, config(target.clone()));
    let calls = deployer.clients.calls.clone();
    let (mut deploys, mut dups) = (Cost::new(), Cost::new());
    for i in 0..ROUNDS {
        let event = push(&format!("v{i}"), &format!("sha256:{:064x}", i + 1), i);
        let _ = measure(&mut deploys, &calls, deployer.handle(event.clone())).await;
        let _ = measure(&mut dups, &calls, deployer.handle(event)).await;
    }
    deploys.row(report, "deployer: pin-digest deploy");
    dups.row(report, "deployer: duplicate delivery (skipped)");
    let follower = Deployer::new(
        stack.clients().0,
        config(DeployTarget {
            strategy: Strategy::FollowTag,
            tags: vec!["latest".into()],
            ..target
        }),
    );
    let calls = follower.clients.calls.clone();
    let mut follow = Cost::new();
    for i in 0..ROUNDS {
        let event = push("latest", &format!("sha256:{:064x}", 1000 + i), 100 + i);
        let _ = measure(&mut follow, &calls, follower.handle(event)).await;
    }
    follow.row(report, "deployer: follow-tag deploy");

    // task-watcher: failing stops of one service, 8 per stack: the first two alerted, the third
    // caught as a crash loop, the rest quiet while the loop's alert stands.
    let mut by_action: BTreeMap<String, Cost> = BTreeMap::new();
    for round in 0..4 {
        let emu = Emulator::start();
        let stack = Stack::create(&emu, &format!("bench{round}"), "web").await;
        let watcher = TaskWatcher::new(
            stack.clients().0,
            stack.task_watcher_config(CrashLoopAction::Alert),
        );
        let calls = watcher.clients.calls.clone();
        for _ in 0..8 {
            let task = stack.stopped_service_task(ELB).await;
            let event = stack.stop_event("elb-health-check.json", &task);
            let mut cost = Cost::new();
            let result = measure(&mut cost, &calls, watcher.handle(event)).await;
            let action = result
                .ok()
                .map(|r| r["actions"].to_string())
                .unwrap_or_else(|| "error".into());
            let entry = by_action.entry(action).or_insert_with(Cost::new);
            entry.calls.extend(cost.calls);
            entry.walls.extend(cost.walls);
        }
    }
    for (action, label) in [
        ("[\"alert\"]", "task-watcher: failing stop (alerted)"),
        (
            "[\"crash-loop\"]",
            "task-watcher: crash loop caught (third stop)",
        ),
        (
            "[\"ignore\"]",
            "task-watcher: stop during an alerted crash loop",
        ),
    ] {
        if let Some(cost) = by_action.get(action) {
            cost.row(report, label);
        }
    }

    // alarm-notifier: a state change.
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "bench", "web").await;
    stack.put_cpu_alarm("dev-web-cpu", "web", &[]).await;
    let notifier = AlarmNotifier::new(stack.clients().0, stack.alarm_notifier_config());
    let calls = notifier.clients.calls.clone();
    let mut alarms = Cost::new();
    for i in 0..ROUNDS {
        let mut event = stack.alarm_event("dev-web-cpu");
        event["id"] = json!(format!("alarm-{i}"));
        let _ = measure(&mut alarms, &calls, notifier.handle(event)).await;
    }
    alarms.row(report, "alarm-notifier: alarm state change");

    deploy_gate(report, ROUNDS).await;
}

/// The deploy-gate over one stage of a linear step: its first invocation, a callback inside the
/// soak, and the callback after it that decides and tells. ECS's service deployment and
/// revision come from the proxy, shaped as the API reference gives them (the emulator has
/// neither); alarms, target health, metrics and the topic are the emulator's.
async fn deploy_gate(report: &mut Report, rounds: u32) {
    use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetTypeEnum};
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "bench", "web").await;
    stack.put_cpu_alarm("bench-web-5xx", "web", &[]).await;
    let (vpc, _) = emu.vpc(&["10.0.9.0/24"]);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&stack.sdk);
    let tg = elb
        .create_target_group()
        .name("bench-green")
        .protocol(ProtocolEnum::Http)
        .port(3000)
        .vpc_id(&vpc)
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
        .ok()
        .and_then(|o| {
            o.target_groups()
                .first()?
                .target_group_arn()
                .map(str::to_string)
        })
        .unwrap_or_default();
    // Green's two tasks, registered (the emulator reports them healthy).
    for ip in ["10.0.9.10", "10.0.9.11"] {
        let _ = elb
            .register_targets()
            .target_group_arn(&tg)
            .targets(
                aws_sdk_elasticloadbalancingv2::types::TargetDescription::builder()
                    .id(ip)
                    .port(3000)
                    .build(),
            )
            .send()
            .await;
    }
    let arn = |r: &str| format!("arn:aws:ecs:us-east-1:123456789012:{r}");
    let green = arn("service-revision/bench/web/2");
    let blue = arn("service-revision/bench/web/1");
    let deployment = arn("service-deployment/bench/web/Fj3eXbBpqQxYyHEkOsFRy");
    let proxy = FaultProxy::start(&emu.endpoint, 7);
    proxy.add(Rule::always(
        "ECS.DescribeServiceDeployments",
        Fault::Answer(
            200,
            json!({"serviceDeployments": [{"serviceDeploymentArn": deployment, "status": "IN_PROGRESS",
                "sourceServiceRevisions": [{"arn": blue, "requestedTaskCount": 2}],
                "targetServiceRevision": {"arn": green, "requestedTaskCount": 2}}], "failures": []})
            .to_string(),
        ),
    ));
    proxy.add(Rule::always(
        "ECS.DescribeServiceRevisions",
        Fault::Answer(
            200,
            json!({"serviceRevisions": [{"serviceRevisionArn": green, "resolvedConfiguration":
                {"loadBalancers": [{"targetGroupArn": tg, "productionListenerRule":
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/bench/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"}]}}],
                "failures": []})
            .to_string(),
        ),
    ));
    let gate = DeployGate::new(
        stack.clients_via(&proxy.url).0,
        GateConfig {
            topic_arn: stack.topic_arn.clone(),
            dry_run: false,
            check_seconds: 30,
            defaults: GateSettings {
                alarms: vec!["bench-web-5xx".into()],
                allow_insufficient_data: true,
                min_requests: 0,
                ..GateSettings::default()
            },
        },
    );
    let calls = gate.clients.calls.clone();
    let mut step = integration_tests::sample_event("deploy-gate/pre-production-traffic-shift.json");
    step["resourceArn"] = json!(deployment);
    step["executionDetails"]["serviceArn"] = json!(arn("service/bench/web"));
    step["executionDetails"]["targetServiceRevisionArn"] = json!(green);
    step["executionDetails"]["productionTrafficWeights"] =
        json!({ green.clone(): 20, blue.clone(): 80 });
    let (mut first, mut soaking, mut deciding) = (Cost::new(), Cost::new(), Cost::new());
    for _ in 0..rounds {
        let answer = measure(&mut first, &calls, gate.handle(step.clone()))
            .await
            .unwrap_or_default();
        let mut memory = answer["hookDetails"]["autopilot"].clone();
        let mut callback = step.clone();
        callback["hookDetails"] = json!({ "autopilot": memory.clone() });
        let _ = measure(&mut soaking, &calls, gate.handle(callback.clone())).await;
        memory["since"] = json!(chrono::Utc::now() - chrono::Duration::minutes(6));
        callback["hookDetails"] = json!({ "autopilot": memory });
        let _ = measure(&mut deciding, &calls, gate.handle(callback)).await;
    }
    first.row(report, "deploy-gate: a stage's first invocation");
    soaking.row(report, "deploy-gate: callback during the soak");
    deciding.row(
        report,
        "deploy-gate: callback after the soak (decides, tells)",
    );
}

/// off-hours ticks over 10, 100 and 500 services selected by tag: a transition, an idempotent
/// tick, and the wake-up, each with its AWS calls and wall time.
async fn off_hours(report: &mut Report) {
    report.heading("off-hours ticks against the emulator: services selected by tag in one cluster");
    report.row(&["services", "tick", "wall", "AWS calls", "mutating"]);
    for n in [10usize, 100, 500] {
        let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
        let stack = Stack::create(&emu, "bench", "web").await;
        for i in 0..n {
            stack
                .create_service(
                    &format!("svc-{i:03}"),
                    2,
                    &[("autopilot:off-hours", "enabled")],
                )
                .await;
        }
        let (clients, _) = stack.clients();
        let off = OffHours::new(
            clients,
            OffHoursConfig {
                targets: vec![],
                selection: Some(TagSelection {
                    key: "autopilot:off-hours".into(),
                    value: "enabled".into(),
                    clusters: vec!["bench".into()],
                }),
                ..stack.off_hours_config()
            },
        );
        for (label, time) in [
            ("to sleep (transition)", "2026-11-16T22:00:00Z"),
            ("asleep again (idempotent)", "2026-11-16T22:15:00Z"),
            ("wake (transition)", "2026-11-17T08:00:00Z"),
            ("awake again (idempotent)", "2026-11-17T08:15:00Z"),
        ] {
            let event = json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": time, "detail": {}});
            let t = Instant::now();
            off.handle(event).await.expect("tick");
            let wall = t.elapsed();
            let calls = off.clients.calls.snapshot();
            let mutating = calls
                .iter()
                .filter(|c| {
                    [
                        "TagResource",
                        "UntagResource",
                        "UpdateService",
                        "RegisterScalableTarget",
                        "AlarmActions",
                        "Publish",
                    ]
                    .iter()
                    .any(|m| c.contains(m))
                })
                .count();
            report.row(&[
                &n.to_string(),
                label,
                &ms(wall),
                &calls.len().to_string(),
                &mutating.to_string(),
            ]);
        }
    }
}

/// A fleet's night at AWS-like latency: every call answered 50 ms late by the fault proxy, the
/// services transitioning one at a time and `CONCURRENCY` (10) at a time.
async fn fleet_latency(report: &mut Report) {
    const SERVICES: usize = 500;
    report.heading(&format!(
        "A fleet at AWS-like latency: off-hours puts {SERVICES} services to sleep, every call answered 50 ms late by the latency proxy"
    ));
    report.row(&["concurrency", "wall", "AWS calls"]);
    let mut walls = vec![];
    for concurrency in [1usize, 10] {
        let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
        let stack = Stack::create(&emu, "bench", "web").await;
        let mut config = stack.off_hours_config();
        config.targets = vec![];
        for i in 0..SERVICES {
            let name = format!("svc-{i:03}");
            stack.create_service(&name, 2, &[]).await;
            config.targets.push(autopilot_core::offhours::ServiceRef {
                cluster: stack.cluster.clone(),
                service: name,
            });
        }
        config.concurrency = concurrency;
        let proxy = FaultProxy::start(&emu.endpoint, 7);
        proxy.add(Rule::randomly(1.0, Fault::Delay(Duration::from_millis(50))));
        let off = OffHours::new(stack.clients_via(&proxy.url).0, config);
        let t = Instant::now();
        off.handle(tick_event("2026-11-16T22:00:00Z"))
            .await
            .expect("night");
        let wall = t.elapsed();
        walls.push(wall);
        report.row(&[
            &concurrency.to_string(),
            &ms(wall),
            &proxy.forwarded().len().to_string(),
        ]);
    }
    if let [sequential, side_by_side] = walls[..] {
        report.para(&format!(
            "Side by side takes {:.2} of the sequential time (goal: at most 0.125).",
            side_by_side.as_secs_f64() / sequential.as_secs_f64()
        ));
    }
}

/// Organization mode: what a push and an idempotent tick in one member account cost while the
/// hub also serves 0, 10 or 50 member accounts that have nothing to do (each ticked every
/// quarter hour, no service opted in), in one hub process that has already acted in all of them.
async fn organization(report: &mut Report) {
    use autopilot_core::org::{organization, OrgConfig};
    const ROUNDS: u32 = 20;
    const MEMBER: &str = "210987654321";
    report.heading(
        "Organization mode: one member account's push and idempotent tick, beside member accounts with nothing to do (in process, against the emulator)",
    );
    report.row(&[
        "idle accounts",
        "push: AWS calls",
        "push: wall p50",
        "idempotent tick: AWS calls",
        "idempotent tick: wall p50",
        "an idle account's tick: AWS calls",
        "first event from an account: extra calls",
    ]);
    for idle in [0usize, 10, 50] {
        let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
        let hub = Stack::create(&emu, "hub", "web").await;
        let key = emu.account_key(MEMBER);
        let member = Stack::create_as(&emu, &key, "east", "web").await;
        member
            .tag_service(&[
                ("autopilot:deploy", "web"),
                ("autopilot:deploy-container", "app"),
                ("autopilot:off-hours", "enabled"),
            ])
            .await;
        let config = |function: &str| OrgConfig {
            role_arn: format!("arn:aws:iam::{{account}}:role/fargate-autopilot-{function}"),
            topic_arn: hub.topic_arn.clone(),
            hub_bus_arn: None,
        };
        let deploy_config = DeployerConfig {
            targets: vec![],
            fleet: true,
            topic_arn: hub.topic_arn.clone(),
            dry_run: false,
            keep_revisions: None,
            reminders: None,
        };
        let (clients, _) = hub.clients();
        let deploy_calls = clients.calls.clone();
        let deployer = organization(clients, &hub.sdk, config("deployer"), move |c| {
            Deployer::new(c, deploy_config.clone())
        });
        let off_config = OffHoursConfig {
            targets: vec![],
            selection: Some(TagSelection {
                key: "autopilot:off-hours".into(),
                value: "enabled".into(),
                clusters: vec![],
            }),
            topic_arn: hub.topic_arn.clone(),
            ..member.off_hours_config()
        };
        let (clients, _) = hub.clients();
        let off_calls = clients.calls.clone();
        let off = organization(clients, &hub.sdk, config("off-hours"), move |c| {
            OffHours::new(c, off_config.clone())
        });
        let tick = |account: &str, time: &str| {
            let mut e = tick_event(time);
            e["account"] = json!(account);
            e
        };
        let idle_accounts: Vec<String> = (0..idle)
            .map(|i| format!("{:012}", 400_000_000_000u64 + i as u64))
            .collect();
        // A quarter hour before: every account ticked once (the hub's process now holds each
        // account's role), the member's first event counted apart.
        off_calls.take();
        off.handle(tick(MEMBER, "2026-11-17T09:45:00Z"))
            .await
            .expect("first tick");
        let first = off_calls.take();
        let extra = first
            .iter()
            .filter(|c| {
                c.starts_with("STS.") || c.starts_with("IAM.") || c.contains("ListTagsForResource")
            })
            .count();
        let mut idle_tick = Cost::new();
        for account in &idle_accounts {
            off.handle(tick(account, "2026-11-17T09:45:00Z"))
                .await
                .expect("idle first tick");
            measure(
                &mut idle_tick,
                &off_calls,
                off.handle(tick(account, "2026-11-17T10:00:00Z")),
            )
            .await
            .expect("idle tick");
        }
        deployer
            .handle({
                let mut e = push(
                    "v0",
                    "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                    0,
                );
                e["account"] = json!(MEMBER);
                e
            })
            .await
            .expect("first push");
        let mut pushes = Cost::new();
        let mut ticks = Cost::new();
        for round in 1..=ROUNDS {
            let mut e = push(&format!("v{round}"), &format!("sha256:{round:064x}"), round);
            e["account"] = json!(MEMBER);
            measure(&mut pushes, &deploy_calls, deployer.handle(e))
                .await
                .expect("push");
            let time = format!("2026-11-17T10:{:02}:00Z", (round % 4) * 15);
            measure(&mut ticks, &off_calls, off.handle(tick(MEMBER, &time)))
                .await
                .expect("tick");
        }
        let mean = |c: &Cost| c.calls.iter().sum::<usize>() as f64 / c.calls.len().max(1) as f64;
        report.row(&[
            &idle.to_string(),
            &format!("{:.1}", mean(&pushes)),
            &ms(percentile(&pushes.walls, 0.5)),
            &format!("{:.1}", mean(&ticks)),
            &ms(percentile(&ticks.walls, 0.5)),
            &if idle == 0 {
                "–".to_string()
            } else {
                format!("{:.1}", mean(&idle_tick))
            },
            &extra.to_string(),
        ]);
    }
    report.para(
        "Each member account's tick is its own invocation (the spoke's schedule forwards it), so a push or a tick in one account makes the same calls whatever the number of other accounts. An account with nothing to do costs its own tick: one GetResources that finds no service. The first event from an account in a process adds AssumeRole, ListAccountAliases and one read of the accounts reported unreachable (the last once per process).",
    );
}
