//! A fleet through off-hours: services transition side by side, never more than the configured
//! concurrency at once, and an idempotent tick stays at one DescribeServices per 10 services.
//! Counted at the wire (the proxy's most requests in flight), never timed: wall times are for
//! `make bench`.

use std::time::Duration;

use autopilot_core::offhours::{OffHours, ServiceRef};
use integration_tests::configs::tick_event;
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
