//! The alarm-notifier against the local emulator (CloudWatch tags, ECS, SNS to SQS).
//! Flapping needs DescribeAlarmHistory, which the emulator does not implement: it is tested
//! with mocked responses in the core crate.

use std::collections::BTreeMap;

use autopilot_core::alarms::{AlarmNotifier, AlarmNotifierConfig};
use autopilot_core::runtime::Handler;
use integration_tests::{sample_event, Emulator, Stack};
use serde_json::{json, Value};

/// The CPU sample, for an alarm of the given name.
fn alarm_event(name: &str) -> Value {
    let mut e = sample_event("alarm-notifier/cpu-alarm.json");
    e["detail"]["alarmName"] = json!(name);
    e["resources"] = json!([format!(
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    )]);
    e
}

async fn setup() -> (Emulator, Stack, AlarmNotifier, String, String) {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "autopilot-demo", "web").await;
    let (pager_topic, pager_queue) = stack.extra_topic("pager").await;
    let (clients, _) = stack.clients();
    let config = AlarmNotifierConfig {
        severity_topics: BTreeMap::from([("critical".to_string(), pager_topic.clone())]),
        ..stack.alarm_notifier_config()
    };
    (
        emu,
        stack,
        AlarmNotifier::new(clients, config),
        pager_topic,
        pager_queue,
    )
}

#[tokio::test]
async fn severity_tags_route_to_the_right_topic() {
    let (_emu, stack, notifier, pager_topic, pager_queue) = setup().await;
    stack
        .put_cpu_alarm(
            "web-cpu-critical",
            "web",
            &[
                ("autopilot:severity", "critical"),
                ("autopilot:runbook", "https://wiki.example/web-cpu"),
            ],
        )
        .await;
    stack.put_cpu_alarm("web-cpu-plain", "web", &[]).await;

    let critical = notifier
        .handle(alarm_event("web-cpu-critical"))
        .await
        .expect("handled");
    assert_eq!(critical["severity"], "critical", "{critical}");
    assert_eq!(critical["topic"], pager_topic.as_str());
    let plain = notifier
        .handle(alarm_event("web-cpu-plain"))
        .await
        .expect("handled");
    assert_eq!(plain["severity"], "warning");
    assert_eq!(plain["topic"], stack.topic_arn.as_str());

    let paged = stack.notifications_in(&pager_queue).await;
    assert_eq!(paged.len(), 1);
    assert!(paged[0]["content"]["title"]
        .as_str()
        .is_some_and(|t| t.contains("web-cpu-critical")));
    assert!(paged[0]["content"]["description"]
        .as_str()
        .is_some_and(|d| d.contains("https://wiki.example/web-cpu|the runbook")));
    assert!(
        paged[0]["content"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("0 of 2 tasks running")),
        "the service's counts, read in one DescribeServices: {}",
        paged[0]
    );
    let chat = stack.notifications().await;
    assert_eq!(chat.len(), 1);
    assert!(chat[0]["content"]["title"]
        .as_str()
        .is_some_and(|t| t.contains("web-cpu-plain")));
    assert_eq!(
        chat[0]["metadata"]["threadId"],
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-cpu-plain"
    );
}

#[tokio::test]
async fn an_asleep_service_pages_no_one() {
    let (_emu, stack, notifier, _, pager_queue) = setup().await;
    stack
        .put_cpu_alarm(
            "web-cpu-critical",
            "web",
            &[("autopilot:severity", "critical")],
        )
        .await;
    stack
        .tag_service(&[("autopilot:asleep-since", "2026-11-16T19:00:00Z")])
        .await;
    let out = notifier
        .handle(alarm_event("web-cpu-critical"))
        .await
        .expect("handled");
    assert_eq!(out["published"], false, "{out}");
    assert!(
        out["reason"].as_str().is_some_and(|r| r.contains("asleep")),
        "{out}"
    );
    assert!(stack.notifications().await.is_empty());
    assert!(stack.notifications_in(&pager_queue).await.is_empty());
}

#[tokio::test]
async fn a_hostile_description_reaches_chat_neutralised() {
    let (_emu, stack, notifier, _, _) = setup().await;
    stack.put_cpu_alarm("web-cpu-plain", "web", &[]).await;
    let mut e = alarm_event("web-cpu-plain");
    e["detail"]["configuration"]["description"] =
        json!("@here <!channel> CPU is high, see [the fix](https://evil.example/x)");
    notifier.handle(e).await.expect("handled");
    let chat = stack.notifications().await;
    assert_eq!(chat.len(), 1);
    let text = chat[0].to_string();
    for bad in ["@here", "<!channel>", "](https://evil"] {
        assert!(!text.contains(bad), "{bad} reached chat: {text}");
    }
    assert!(
        text.contains("CPU is high"),
        "the text itself is kept: {text}"
    );
}

#[tokio::test]
async fn every_sample_is_published() {
    let (_emu, stack, notifier, _, _) = setup().await;
    let samples = [
        "cpu-alarm.json",
        "cpu-ok.json",
        "metric-math.json",
        "anomaly-detection.json",
        "composite.json",
        "no-description.json",
        "insufficient-data.json",
    ];
    for s in samples {
        let out = notifier
            .handle(sample_event(&format!("alarm-notifier/{s}")))
            .await
            .expect("handled");
        assert_eq!(out["published"], true, "{s}: {out}");
    }
    assert_eq!(stack.notifications().await.len(), samples.len());
}
