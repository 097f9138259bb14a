//! A fleet through off-hours: services transition side by side, never more than the configured
//! concurrency at once, and an idempotent tick stays at one DescribeServices per 10 services.
//! A push followed by many services: deployed side by side, one revision registered for all.
//! Counted at the wire (the proxy's most requests in flight), never timed: wall times are for
//! `make bench`.

use std::time::Duration;

use autopilot_core::deploy::{DeployTarget, Deployer};
use autopilot_core::offhours::{OffHours, ServiceRef};
use autopilot_core::runtime::Handler;
use integration_tests::configs::{push_event, tick_event};
use integration_tests::{Emulator, Fault, FaultProxy, Rule, Stack};

#[tokio::test]
async fn a_fleet_sleeps_side_by_side_never_more_than_its_concurrency_at_once() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let stack = Stack::create(&emu, "dev", "web").await;
    let mut names = vec![stack.service.clone()];
    for i in 0..29 {
        let name = format!("svc{i:02}");
        stack.create_service(&name, 1, &[]).await;
        names.push(name);
    }
    let proxy = FaultProxy::start(&emu.endpoint, 7);
    // Every call answered 40 ms late: AWS's latency, so that calls overlap when they can.
    proxy.add(Rule::randomly(1.0, Fault::Delay(Duration::from_millis(40))));
    let mut config = stack.off_hours_config();
    config.targets = names
        .iter()
        .map(|n| ServiceRef {
            cluster: stack.cluster.clone(),
            service: n.clone(),
        })
        .collect();
    config.concurrency = 8;
    let off = OffHours::new(stack.clients_via(&proxy.url).0, config);
    let night = off
        .handle(tick_event("2026-11-16T22:00:00Z"))
        .await
        .expect("night");
    let services = night["services"].as_array().expect("services");
    assert_eq!(services.len(), 30);
    assert!(services.iter().all(|s| s["action"] == "sleep"), "{night}");
    let most = proxy.most_in_flight();
    assert!(
        (2..=8).contains(&most),
        "side by side, at most 8 at once: {most} in flight"
    );

    proxy.forget();
    let again = off
        .handle(tick_event("2026-11-16T22:15:00Z"))
        .await
        .expect("the same night");
    assert!(
        again["services"]
            .as_array()
            .is_some_and(|s| s.iter().all(|s| s["action"] == "none")),
        "{again}"
    );
    assert_eq!(
        proxy.forwarded(),
        vec!["ECS.DescribeServices".to_string(); 3],
        "an idempotent tick reads 30 services in 3 calls and writes nothing"
    );
}

#[tokio::test]
async fn a_push_for_many_services_deploys_them_side_by_side_with_one_revision() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let stack = Stack::create(&emu, "dev", "web").await;
    let mut config = stack.deployer_config(None);
    let first = config.targets[0].clone();
    for i in 0..11 {
        let name = format!("svc{i:02}");
        stack.create_service(&name, 1, &[]).await;
        config.targets.push(DeployTarget {
            service: name,
            ..first.clone()
        });
    }
    let proxy = FaultProxy::start(&emu.endpoint, 7);
    proxy.add(Rule::randomly(1.0, Fault::Delay(Duration::from_millis(40))));
    let deployer = Deployer::new(stack.clients_via(&proxy.url).0, config);
    let result = deployer
        .handle(push_event(
            "v2.0.0",
            &format!("sha256:{:064x}", 42),
            "2026-11-16T10:00:00Z",
        ))
        .await
        .expect("deployed");
    let decisions = result["decisions"].as_array().expect("decisions");
    assert_eq!(decisions.len(), 12, "{result}");
    assert!(
        decisions.iter().all(|d| d["reason"] == "deployed"),
        "{result}"
    );
    let counts = proxy.forwarded_counts();
    assert_eq!(
        counts.get("ECS.RegisterTaskDefinition"),
        Some(&1),
        "the twelve services share their base revision, so one copy: {counts:?}"
    );
    assert_eq!(counts.get("ECS.UpdateService"), Some(&12), "{counts:?}");
    let most = proxy.most_in_flight();
    assert!(
        (2..=autopilot_core::aws::FAN_OUT).contains(&most),
        "side by side, at most FAN_OUT at once: {most} in flight"
    );
    let revisions: std::collections::BTreeSet<String> = decisions
        .iter()
        .filter_map(|d| d["taskDefinitionArn"].as_str().map(str::to_string))
        .collect();
    assert_eq!(revisions.len(), 1, "{result}");
}
