//! The alarm-notifier's whole flow over in-memory AWS (`testing::FakeAws`): routing by the
//! alarm's tag, the service's state in the message, sleeping services, flapping.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::runtime::Handler;
use crate::tags;
use crate::testing::FakeAws;

const CHAT: &str = "arn:aws:sns:us-east-1:123456789012:chat";
const PAGER: &str = "arn:aws:sns:us-east-1:123456789012:pager";
const ALARM_ARN: &str =
    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:autopilot-demo-web-cpu-high";

fn notifier(aws: FakeAws) -> AlarmNotifier<FakeAws> {
    AlarmNotifier::new(
        aws,
        AlarmNotifierConfig {
            topic_arn: CHAT.into(),
            severity_topics: BTreeMap::from([("critical".to_string(), PAGER.to_string())]),
            flap_threshold: 4,
            flap_window_minutes: 30,
        },
    )
}

/// The CPU sample: alarm `autopilot-demo-web-cpu-high` on service web of cluster
/// autopilot-demo, ALARM since 14:05:40, OK since 11:52:10 before that.
fn cpu_alarm() -> Value {
    serde_json::from_str(include_str!(
        "../../../events/alarm-notifier/cpu-alarm.json"
    ))
    .expect("sample")
}

fn aws(service_tags: &[(&str, &str)], alarm_tags: &[(&str, &str)]) -> FakeAws {
    let aws = FakeAws::default();
    aws.with(|s| {
        let web = s.service("autopilot-demo", "web", 2, "", service_tags);
        (web.running, web.pending) = (1, 1);
        s.alarm_tags.insert(
            ALARM_ARN.into(),
            alarm_tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
    });
    aws
}

#[tokio::test]
async fn a_critical_alarm_pages_with_the_services_state_and_its_runbook() {
    let n = notifier(aws(
        &[],
        &[
            (tags::SEVERITY, "critical"),
            (tags::RUNBOOK, "https://wiki.example/cpu"),
        ],
    ));
    let result = n.handle(cpu_alarm()).await.expect("handled");
    assert_eq!(
        (result["published"].clone(), result["topic"].clone()),
        (json!(true), json!(PAGER)),
        "{result}"
    );
    let published = n.clients.with(|s| s.published.clone());
    assert_eq!(published.len(), 1);
    let (topic, message) = &published[0];
    assert_eq!(topic, PAGER);
    assert!(
        message
            .description
            .contains("1 of 2 tasks running, 1 pending"),
        "{}",
        message.description
    );
    assert!(message
        .to_chatbot()
        .to_string()
        .contains("https://wiki.example/cpu"));
    // The previous state began hours before: no history call.
    assert_eq!(
        n.clients.calls.snapshot(),
        [
            "CloudWatch.ListTagsForResource",
            "ECS.DescribeServices",
            "SNS.Publish"
        ]
    );
}

#[tokio::test]
async fn an_alarm_of_a_sleeping_service_pages_no_one() {
    let n = notifier(aws(&[(tags::ASLEEP_SINCE, "2026-11-16T19:00:00Z")], &[]));
    let result = n.handle(cpu_alarm()).await.expect("handled");
    assert_eq!(result["published"], false, "{result}");
    assert!(
        result["reason"]
            .as_str()
            .is_some_and(|r| r.contains("asleep")),
        "{result}"
    );
    assert!(n.clients.published().is_empty());
}

#[tokio::test]
async fn a_flapping_alarm_is_reported_once_then_quiet() {
    let aws = aws(&[], &[]);
    let changed: chrono::DateTime<chrono::Utc> = "2026-11-16T14:05:40Z".parse().expect("time");
    let mut event = cpu_alarm();
    event["detail"]["previousState"]["timestamp"] = json!("2026-11-16T14:00:00.000+0000");
    let history = |n: i64| {
        (1..=n)
            .map(|i| changed - chrono::Duration::minutes(i * 4))
            .collect::<Vec<_>>()
    };
    aws.with(|s| {
        s.history
            .insert("autopilot-demo-web-cpu-high".into(), history(4))
    });
    let n = notifier(aws);
    let first = n.handle(event.clone()).await.expect("handled");
    assert_eq!(first["published"], true, "{first}");
    assert!(n.clients.published()[0].description.contains("flapping"));
    n.clients.with(|s| {
        s.history
            .insert("autopilot-demo-web-cpu-high".into(), history(5))
    });
    let then = n.handle(event).await.expect("handled");
    assert_eq!(then["published"], false, "{then}");
    assert!(
        then["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("flapping: 6 changes")),
        "{then}"
    );
}

#[tokio::test]
async fn an_alarm_without_its_own_severity_or_runbook_takes_its_services() {
    let n = notifier(aws(
        &[
            (tags::SEVERITY, "critical"),
            (tags::RUNBOOK, "https://wiki.example/web"),
        ],
        &[],
    ));
    let result = n.handle(cpu_alarm()).await.expect("handled");
    assert_eq!(result["topic"], json!(PAGER), "{result}");
    let published = n.clients.with(|s| s.published.clone());
    assert!(published[0]
        .1
        .to_chatbot()
        .to_string()
        .contains("https://wiki.example/web"));

    // The alarm's own tag wins over the service's.
    let n = notifier(aws(
        &[(tags::SEVERITY, "critical")],
        &[(tags::SEVERITY, "info")],
    ));
    let result = n.handle(cpu_alarm()).await.expect("handled");
    assert_eq!(result["severity"], "info", "{result}");
    assert_ne!(result["topic"], json!(PAGER), "{result}");
}
