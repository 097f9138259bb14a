//! The deploy-gate's reads against the local emulator: alarms' states (CloudWatch) and a target
//! group's health (ELB), through the adapters the function uses. The service deployment and its
//! revision (ECS's `DescribeServiceDeployments`, `DescribeServiceRevisions`), the hook
//! invocations and the metrics' values are not in the emulator: they are tested in the core
//! crate against responses shaped as the API references give them.

use autopilot_core::gate::GatePorts;
use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetDescription, TargetTypeEnum};
use integration_tests::{Emulator, Stack};

#[tokio::test]
async fn the_gate_reads_alarm_states_by_name_and_an_absent_alarm_is_absent() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "autopilot-demo", "web").await;
    stack.put_cpu_alarm("web-5xx", "web", &[]).await;
    stack.put_cpu_alarm("web-latency", "web", &[]).await;
    let cw = aws_sdk_cloudwatch::Client::new(&stack.sdk);
    for (name, state) in [
        ("web-5xx", StateValue::Alarm),
        ("web-latency", StateValue::Ok),
    ] {
        cw.set_alarm_state()
            .alarm_name(name)
            .state_value(state)
            .state_reason("set by the test")
            .send()
            .await
            .expect("SetAlarmState");
    }
    let (clients, _) = stack.clients();
    let names = ["web-5xx", "web-latency", "web-missing"].map(String::from);
    let mut read = clients.alarms(&names).await.expect("DescribeAlarms");
    read.sort_by(|a, b| a.name.cmp(&b.name));
    let states: Vec<(&str, &str)> = read
        .iter()
        .map(|a| (a.name.as_str(), a.state.as_str()))
        .collect();
    assert_eq!(states, [("web-5xx", "ALARM"), ("web-latency", "OK")]);
    assert_eq!(read[0].reason.as_deref(), Some("set by the test"));
}

#[tokio::test]
async fn the_gate_counts_a_target_groups_registered_targets_by_health() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "autopilot-demo", "web").await;
    let (vpc, _) = emu.vpc(&["10.0.9.0/24"]);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&stack.sdk);
    let tg = elb
        .create_target_group()
        .name("web-green")
        .protocol(ProtocolEnum::Http)
        .port(3000)
        .vpc_id(&vpc)
        .target_type(TargetTypeEnum::Ip)
        .health_check_path("/api/health")
        .send()
        .await
        .expect("CreateTargetGroup")
        .target_groups()[0]
        .target_group_arn()
        .expect("an ARN")
        .to_string();
    let (clients, _) = stack.clients();
    let empty = clients
        .target_health(&tg)
        .await
        .expect("DescribeTargetHealth");
    assert_eq!(
        (empty.healthy, empty.initial, empty.unhealthy, empty.other),
        (0, 0, 0, 0)
    );
    for ip in ["10.0.9.10", "10.0.9.11"] {
        elb.register_targets()
            .target_group_arn(&tg)
            .targets(TargetDescription::builder().id(ip).port(3000).build())
            .send()
            .await
            .expect("RegisterTargets");
    }
    let two = clients
        .target_health(&tg)
        .await
        .expect("DescribeTargetHealth");
    assert_eq!(
        two.healthy + two.initial + two.unhealthy + two.other,
        2,
        "{two:?}"
    );
    let missing = clients
        .target_health(&tg.replace("web-green", "web-gone"))
        .await
        .expect_err("no such target group");
    assert!(
        missing.to_string().contains("DescribeTargetHealth"),
        "{missing}"
    );
}
