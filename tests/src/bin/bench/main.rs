//! `make bench`: figures, not pass/fail. The deployer's cost per event against the emulator
//! (AWS calls and wall time), and the pure parse-and-plan path per event.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use autopilot_core::deploy::{
    parse, plan, DeployTarget, Deployer, DeployerConfig, DeployerEvent, Strategy,
};
use autopilot_core::offhours::calendar::{parse_windows, Calendar};
use autopilot_core::offhours::{OffHours, OffHoursConfig, TagSelection};
use integration_tests::configs::tick_event;
use integration_tests::{Emulator, Fault, FaultProxy, Rule, Stack};
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

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let n = samples.len().max(1);
    let total: Duration = samples.iter().sum();
    let at = |q: f64| {
        samples
            .get(((n as f64 * q) as usize).min(n - 1))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{label:<44} n={n:<6} mean={:>9.3?} p50={:>9.3?} p95={:>9.3?} max={:>9.3?}",
        total / n as u32,
        at(0.5),
        at(0.95),
        samples.last().copied().unwrap_or_default()
    );
}

#[tokio::main]
async fn main() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "bench", "web").await;
    let (clients, _) = stack.clients();
    let target = DeployTarget {
        repository: "web".into(),
        tags: vec!["*".into()],
        cluster: stack.cluster.clone(),
        service: stack.service.clone(),
        container: Some("app".into()),
        strategy: Strategy::PinDigest,
    };
    let deployer = Deployer::new(
        clients,
        DeployerConfig {
            targets: vec![target.clone()],
            topic_arn: stack.topic_arn.clone(),
            dry_run: false,
            keep_revisions: None,
        },
    );

    println!("deployer against the emulator (moto, loopback), one process, sequential\n");
    let (mut deploys, mut dups, mut deploy_calls, mut dup_calls) = (vec![], vec![], 0, 0);
    const ROUNDS: u32 = 40;
    for i in 0..ROUNDS {
        let digest = format!("sha256:{:064x}", i + 1);
        let event = push(&format!("v{i}"), &digest, i);
        let t = Instant::now();
        deployer.handle(event.clone()).await.expect("deploy");
        deploys.push(t.elapsed());
        deploy_calls += deployer.clients.calls.snapshot().len();
        let t = Instant::now();
        deployer.handle(event).await.expect("duplicate");
        dups.push(t.elapsed());
        dup_calls += deployer.clients.calls.snapshot().len();
    }
    summary("pin-digest deploy (5 AWS calls expected)", deploys);
    summary("duplicate delivery (skip)", dups);
    println!(
        "AWS calls per event: deploy {:.1}, duplicate {:.1}\n",
        deploy_calls as f64 / ROUNDS as f64,
        dup_calls as f64 / ROUNDS as f64
    );

    let events: Vec<Value> = (0..10_000)
        .map(|i| push(&format!("v{i}"), &format!("sha256:{i:064x}"), i % 1440))
        .collect();
    let targets = vec![target];
    let t = Instant::now();
    let mut planned = 0;
    for e in &events {
        if let Ok(DeployerEvent::Push(p)) = parse(e.clone()) {
            planned += plan::plan_push(&p, &targets, &BTreeMap::new(), false, chrono::Utc::now())
                .planned
                .len();
        }
    }
    let elapsed = t.elapsed();
    println!(
        "parse + plan (pure, no I/O): {} events in {:.3?} = {:.2} µs/event ({planned} decisions)",
        events.len(),
        elapsed,
        elapsed.as_secs_f64() * 1e6 / events.len() as f64
    );

    off_hours().await;
    fleet_latency().await;
}

/// off-hours ticks over 10, 100 and 500 services selected by tag: a transition, an idempotent
/// tick, and the wake-up, each with its AWS calls and wall time.
async fn off_hours() {
    println!("\noff-hours against the emulator: services selected by tag in one cluster\n");
    println!(
        "{:>9}  {:<26} {:>10} {:>8} {:>10}",
        "services", "tick", "wall", "calls", "mutating"
    );
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
                calendar: Calendar {
                    windows: parse_windows("Mon-Fri 07:00-19:00").expect("windows"),
                    tz: chrono_tz::UTC,
                    holidays: vec![],
                },
                targets: vec![],
                selection: Some(TagSelection {
                    key: "autopilot:off-hours".into(),
                    value: "enabled".into(),
                    clusters: vec!["bench".into()],
                }),
                topic_arn: stack.topic_arn.clone(),
                dry_run: false,
                price_vcpu_hour: 0.04048,
                price_gb_hour: 0.004445,
                tick_minutes: 15,
                concurrency: 10,
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
            println!(
                "{n:>9}  {label:<26} {:>10.2?} {:>8} {:>10}",
                wall,
                calls.len(),
                mutating
            );
        }
    }
}

/// A fleet's night at AWS-like latency: every call answered 50 ms late by the fault proxy, the
/// services transitioning one at a time and `CONCURRENCY` (10) at a time.
async fn fleet_latency() {
    const SERVICES: usize = 500;
    println!("\noff-hours, {SERVICES} services to sleep, 50 ms per AWS call (latency proxy)");
    println!("{:>12} {:>10} {:>8}", "concurrency", "wall", "calls");
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
        println!(
            "{concurrency:>12} {:>10.2?} {:>8}",
            wall,
            proxy.forwarded().len()
        );
    }
    if let [sequential, side_by_side] = walls[..] {
        println!(
            "side by side takes {:.2} of the sequential time (goal: at most 0.125)",
            side_by_side.as_secs_f64() / sequential.as_secs_f64()
        );
    }
}
