//! The alarm messages over the sample events (snapshots of the Chatbot JSON and the email
//! text), routing and noise rules, and the error paths against mocked AWS responses.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::operation::describe_alarm_history::DescribeAlarmHistoryOutput;
use aws_sdk_cloudwatch::operation::list_tags_for_resource::{
    ListTagsForResourceError, ListTagsForResourceOutput,
};
use aws_sdk_cloudwatch::types::AlarmHistoryItem;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{mock, Rule};
use proptest::prelude::{prop_oneof, proptest, Just, ProptestConfig};
use serde_json::{json, Value};

use super::*;
use crate::model::service::{DeploymentSnapshot, ServiceSnapshot};
use crate::runtime::Handler;

macro_rules! sample {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../events/alarm-notifier/", $name)),
        )
    };
}

const SAMPLES: &[(&str, &str)] = &[
    sample!("cpu-alarm.json"),
    sample!("cpu-ok.json"),
    sample!("metric-math.json"),
    sample!("anomaly-detection.json"),
    sample!("composite.json"),
    sample!("no-description.json"),
    sample!("insufficient-data.json"),
];

/// Alarm notifications delivered through SNS, as Lambda hands them over.
const SNS_SAMPLES: &[(&str, &str)] =
    &[sample!("sns-cpu-alarm.json"), sample!("sns-composite.json")];

fn event(raw: &str) -> Event<AlarmStateChange> {
    parse(serde_json::from_str(raw).expect("JSON")).expect("parses")
}

/// The context the handler would build for a sample without any tags.
fn default_context(ev: &Event<AlarmStateChange>) -> Context {
    Context {
        severity: Some(severity(ev.detail.state.value.as_ref(), &BTreeMap::new())),
        runbook: None,
        service: render::ecs_service(&ev.detail).map(|_| ServiceSnapshot {
            running: 1,
            desired: 2,
            pending: 1,
            deployments: vec![DeploymentSnapshot {
                status: "PRIMARY".into(),
                rollout_state: Some("IN_PROGRESS".into()),
                ..DeploymentSnapshot::default()
            }],
            ..ServiceSnapshot::default()
        }),
        flapping: None,
    }
}

#[test]
fn every_sample_renders_as_its_snapshot() {
    for (name, raw) in SAMPLES {
        let ev = event(raw);
        let n = render(&ev, &default_context(&ev));
        let stem = name.trim_end_matches(".json");
        let chatbot = serde_json::to_string_pretty(&n.to_chatbot()).expect("JSON");
        insta::assert_snapshot!(format!("{stem}.chatbot"), chatbot);
        insta::assert_snapshot!(format!("{stem}.email"), n.to_text());
    }
}

#[test]
fn the_condition_reads_as_a_sentence() {
    let c = render::condition(&event(SAMPLES[0].1).detail);
    assert_eq!(
        c,
        "CPUUtilization (Average, 1 min) of service web in cluster autopilot-demo was 93.2 %, above the threshold of 80 % for 3 of 3 datapoints."
    );
    let ok = render::condition(&event(SAMPLES[1].1).detail);
    assert!(ok.contains("not above the threshold of 80 %"), "{ok}");
    let math = render::condition(&event(SAMPLES[2].1).detail);
    assert!(
        math.contains("100 * errors / requests") && math.contains("at or above the threshold of 5"),
        "{math}"
    );
    let band = render::condition(&event(SAMPLES[3].1).detail);
    assert!(
        band.contains("outside its expected band [0.12 to 0.87]"),
        "{band}"
    );
    let composite = render::condition(&event(SAMPLES[4].1).detail);
    assert!(
        composite.contains("autopilot-demo-web-cpu-high, autopilot-demo-web-5xx-rate"),
        "{composite}"
    );
}

#[test]
fn ok_and_alarm_share_a_thread_and_ids_differ_per_change() {
    let alarm = render(&event(SAMPLES[0].1), &Context::default());
    let ok = render(&event(SAMPLES[1].1), &Context::default());
    assert_eq!(alarm.thread_id, ok.thread_id);
    assert_ne!(alarm.id, ok.id);
    assert_eq!(
        alarm.id,
        render(&event(SAMPLES[0].1), &Context::default()).id,
        "stable per state change"
    );
}

#[test]
fn links_follow_the_partition() {
    let mut v: Value = serde_json::from_str(SAMPLES[0].1).expect("JSON");
    v["region"] = json!("cn-north-1");
    v["resources"] =
        json!(["arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:autopilot-demo-web-cpu-high"]);
    let n = render(&parse(v).expect("parses"), &Context::default());
    assert!(n.description.contains("https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#alarmsV2:alarm/autopilot-demo-web-cpu-high"), "{}", n.description);
}

#[test]
fn outside_text_reaches_chat_neutralised() {
    let mut v: Value = serde_json::from_str(SAMPLES[0].1).expect("JSON");
    v["detail"]["configuration"]["description"] =
        json!("@here <!channel> see [this](https://evil.example) <https://evil.example|ok>");
    v["detail"]["alarmName"] = json!("<!here> cpu");
    let n = render(&parse(v).expect("parses"), &Context::default());
    let all = n.to_chatbot().to_string() + &n.to_text();
    for bad in [
        "@here",
        "<!channel>",
        "<!here>",
        "](https://evil",
        "<https://evil",
    ] {
        assert!(!all.contains(bad), "{bad} in {all}");
    }
}

#[test]
fn a_strange_alarm_still_says_something() {
    // Unknown values (a new state, metrics of a shape not seen) are tolerated.
    for detail in [
        json!({"alarmName": "x", "configuration": {"metrics": "nope"}, "state": {"value": "SNOOZED", "reason": "who knows"}}),
        json!({"alarmName": "x", "state": {}}),
    ] {
        let ev = parse(json!({"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "detail": detail})).expect("lenient");
        let n = render(&ev, &Context::default());
        assert!(!n.title.is_empty() && !n.description.is_empty());
    }
}

#[test]
fn what_is_not_an_alarm_is_an_error_naming_the_field() {
    for (detail, field) in [
        (json!({}), "detail.alarmName"),
        (json!({"alarmName": 7, "state": {}}), "detail.alarmName"),
        (json!({"alarmName": "x"}), "detail.state"),
        (json!({"alarmName": "x", "state": 3}), "detail.state"),
        (json!({"alarmName": "x", "state": "ALARM"}), "detail.state"),
    ] {
        let e = parse(json!({"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "detail": detail}))
            .expect_err("not an alarm");
        assert!(!e.is_retryable());
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
}

#[tokio::test]
async fn nothing_is_published_for_what_is_not_an_alarm() {
    let publish =
        mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().build());
    let n = notifier(&[], &[&publish]);
    let e = n
        .handle(json!({"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "detail": {}}))
        .await
        .expect_err("not an alarm");
    assert!(e.to_string().contains("detail.alarmName"), "{e}");
    let mut text: Value = serde_json::from_str(SNS_SAMPLES[0].1).expect("JSON");
    text["Records"][0]["Sns"]["Message"] = json!("Hello\r\nworld!");
    text["Records"][0]["Sns"]["Subject"] = json!("Greetings");
    let e = n.handle(text).await.expect_err("not an alarm");
    assert!(!e.is_retryable());
    assert!(
        e.to_string().contains("Records[0].Sns.Message")
            && e.to_string()
                .contains("arn:aws:sns:us-east-1:123456789012:ops-alarms")
            && e.to_string().contains("plain text"),
        "{e}"
    );
    let mut other: Value = serde_json::from_str(SNS_SAMPLES[0].1).expect("JSON");
    other["Records"][0]["Sns"]["Message"] =
        json!(r#"{"version":"0","detail-type":"EC2 Instance State-change Notification"}"#);
    let e = n.handle(other).await.expect_err("not an alarm");
    assert!(e.to_string().contains("no AlarmName"), "{e}");
    assert_eq!(publish.num_calls(), 0, "nothing reached the channel");
}

#[test]
fn an_alarm_through_sns_reads_as_the_same_alarm_through_eventbridge() {
    let by_sns = parse_all(serde_json::from_str(SNS_SAMPLES[0].1).expect("JSON"))
        .expect("an SNS alarm")
        .remove(0);
    let by_eventbridge = event(SAMPLES[0].1);
    assert_eq!(
        by_sns.region, "us-east-1",
        "from the ARN, not the display name"
    );
    assert_eq!(by_sns.account, "123456789012");
    let (a, b) = (
        render(&by_sns, &default_context(&by_sns)),
        render(&by_eventbridge, &default_context(&by_eventbridge)),
    );
    assert_eq!(
        a.id, b.id,
        "one state change, one id: Chatbot shows it once"
    );
    assert_eq!(a.thread_id, b.thread_id, "the same thread");
    assert_eq!(a.title, b.title);
    assert_eq!(
        render::condition(&by_sns.detail),
        render::condition(&by_eventbridge.detail),
        "the datapoints and threshold come from the reason and the trigger"
    );
    assert_eq!(
        render::ecs_service(&by_sns.detail),
        Some(("autopilot-demo".into(), "web".into()))
    );

    let composite = parse_all(serde_json::from_str(SNS_SAMPLES[1].1).expect("JSON"))
        .expect("an SNS composite alarm")
        .remove(0);
    let c = render::condition(&composite.detail);
    assert!(
        c.contains("in ALARM now: autopilot-demo-web-cpu-high"),
        "{c}"
    );
    for (name, raw) in SNS_SAMPLES {
        let ev = parse_all(serde_json::from_str(raw).expect("JSON"))
            .expect("parses")
            .remove(0);
        let n = render(&ev, &default_context(&ev));
        insta::assert_snapshot!(
            format!("{}.email", name.trim_end_matches(".json")),
            n.to_text()
        );
    }
}

#[test]
fn severity_comes_from_the_tag_else_the_state() {
    let tags = |v: &str| BTreeMap::from([(SEVERITY.to_string(), v.to_string())]);
    assert_eq!(
        severity(Some(&AlarmStateValue::Alarm), &BTreeMap::new()),
        Severity::Warning
    );
    assert_eq!(
        severity(Some(&AlarmStateValue::Ok), &BTreeMap::new()),
        Severity::Info
    );
    assert_eq!(
        severity(Some(&AlarmStateValue::Ok), &tags("Critical")),
        Severity::Critical
    );
    assert_eq!(
        severity(Some(&AlarmStateValue::Alarm), &tags("bogus")),
        Severity::Warning
    );
}

#[test]
fn only_plain_https_runbooks_are_linked() {
    let tags = |v: &str| BTreeMap::from([(RUNBOOK.to_string(), v.to_string())]);
    assert_eq!(
        runbook(&tags("https://wiki.example/runbooks/web-cpu")).as_deref(),
        Some("https://wiki.example/runbooks/web-cpu")
    );
    for bad in [
        "http://plain.example",
        "javascript:alert(1)",
        "https://x.example|<!here>",
        "https://a b",
    ] {
        assert_eq!(runbook(&tags(bad)), None, "{bad}");
    }
}

#[test]
fn flapping_is_reported_on_the_change_that_crosses_and_then_quiet() {
    assert_eq!(flap(4, 4), Flap::No);
    assert_eq!(flap(5, 4), Flap::Report(5));
    assert_eq!(flap(6, 4), Flap::Quiet(6));
}

fn notifier(cw: &[&Rule], sns: &[&Rule]) -> AlarmNotifier {
    AlarmNotifier::new(
        crate::aws::mocked_clients(&[], sns, cw),
        AlarmNotifierConfig {
            topic_arn: "arn:aws:sns:us-east-1:123456789012:chat".into(),
            severity_topics: BTreeMap::new(),
            flap_threshold: 4,
            flap_window_minutes: 30,
        },
    )
}

/// The metric-math sample (no ECS dimensions) with the previous state a minute before.
fn recent_flip() -> Value {
    let mut v: Value = serde_json::from_str(SAMPLES[2].1).expect("JSON");
    v["detail"]["previousState"]["timestamp"] = json!("2026-11-16T14:04:40.000+0000");
    v
}

fn history(n: usize) -> Rule {
    mock!(aws_sdk_cloudwatch::Client::describe_alarm_history).then_output(move || {
        DescribeAlarmHistoryOutput::builder()
            .set_alarm_history_items(Some(
                (0..n)
                    .map(|i| {
                        AlarmHistoryItem::builder()
                            .timestamp(aws_smithy_types::DateTime::from_millis(
                                1_794_837_940_989 - 60_000 * i as i64,
                            ))
                            .build()
                    })
                    .collect(),
            ))
            .build()
    })
}

#[tokio::test]
async fn a_flapping_alarm_is_reported_once() {
    let tags = mock!(aws_sdk_cloudwatch::Client::list_tags_for_resource)
        .then_output(|| ListTagsForResourceOutput::builder().build());
    let publish =
        mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().build());
    // 5 changes, this one (14:05:40.989) among them: crosses the threshold of 4, reported as flapping.
    let crossing = history(5);
    let n = notifier(&[&tags, &crossing], &[&publish]);
    let out = n.handle(recent_flip()).await.expect("handled");
    assert_eq!(out["published"], true, "{out}");
    assert_eq!(publish.num_calls(), 1);
    // 6 changes: already reported, quiet.
    let beyond = history(6);
    let n = notifier(&[&tags, &beyond], &[&publish]);
    let out = n.handle(recent_flip()).await.expect("handled");
    assert_eq!(out["published"], false, "{out}");
    assert!(
        out["reason"]
            .as_str()
            .is_some_and(|r| r.contains("flapping")),
        "{out}"
    );
    assert_eq!(publish.num_calls(), 1, "no second message");
}

#[tokio::test]
async fn a_flapping_composite_alarm_is_reported_once_too() {
    let tags = mock!(aws_sdk_cloudwatch::Client::list_tags_for_resource)
        .then_output(|| ListTagsForResourceOutput::builder().build());
    let publish =
        mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().build());
    // DescribeAlarmHistory answers a composite alarm's history only when asked for it by type.
    let composite_history = mock!(aws_sdk_cloudwatch::Client::describe_alarm_history)
        .match_requests(|r| {
            r.alarm_types()
                .contains(&aws_sdk_cloudwatch::types::AlarmType::CompositeAlarm)
        })
        .then_output(|| {
            DescribeAlarmHistoryOutput::builder()
                .set_alarm_history_items(Some(
                    (0..5)
                        .map(|i| {
                            AlarmHistoryItem::builder()
                                .timestamp(aws_smithy_types::DateTime::from_millis(
                                    1_794_837_940_989 - 60_000 * i as i64,
                                ))
                                .build()
                        })
                        .collect(),
                ))
                .build()
        });
    let n = notifier(&[&tags, &composite_history], &[&publish]);
    let mut raw: Value = serde_json::from_str(SAMPLES[4].1).expect("JSON");
    raw["detail"]["previousState"]["timestamp"] = json!("2026-11-16T14:04:40.000+0000");
    let out = n.handle(raw).await.expect("handled");
    assert_eq!(
        composite_history.num_calls(),
        1,
        "the history asked for composite alarms"
    );
    assert_eq!(out["published"], true, "{out}");
}

#[tokio::test]
async fn an_old_previous_state_needs_no_history_call() {
    let tags = mock!(aws_sdk_cloudwatch::Client::list_tags_for_resource)
        .then_output(|| ListTagsForResourceOutput::builder().build());
    let hist = history(9);
    let publish =
        mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().build());
    let n = notifier(&[&tags, &hist], &[&publish]);
    let raw: Value = serde_json::from_str(SAMPLES[2].1).expect("JSON");
    let out = n.handle(raw).await.expect("handled");
    assert_eq!(out["published"], true);
    assert_eq!(
        hist.num_calls(),
        0,
        "the previous state began long before the window"
    );
}

#[tokio::test]
async fn unreadable_tags_degrade_the_message_and_do_not_lose_it() {
    let denied = mock!(aws_sdk_cloudwatch::Client::list_tags_for_resource).then_error(|| {
        ListTagsForResourceError::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code("AccessDenied")
                .build(),
        )
    });
    let publish =
        mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().build());
    let n = notifier(&[&denied], &[&publish]);
    let raw: Value = serde_json::from_str(SAMPLES[2].1).expect("JSON");
    let out = n.handle(raw).await.expect("handled");
    assert_eq!(
        (out["published"].clone(), out["severity"].clone()),
        (json!(true), json!("warning"))
    );
    assert_eq!(publish.num_calls(), 1);
}

const KEYS: &[&str] = &[
    "detail",
    "detail-type",
    "source",
    "alarmName",
    "state",
    "previousState",
    "configuration",
    "metrics",
    "metricStat",
    "metric",
    "dimensions",
    "value",
    "reason",
    "reasonData",
    "timestamp",
    "expression",
    "alarmRule",
];
const STRINGS: &[&str] = &[
    "CloudWatch Alarm State Change",
    "ALARM",
    "OK",
    "] was greater than the threshold (5)",
    "3 out of the last 3 datapoints",
    "{\"recentDatapoints\":[1e308],\"threshold\":-0.0}",
    "ANOMALY_DETECTION_BAND(m1)",
    "2019-10-02T17:04:40.989+0000",
    "ClusterName",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// No JSON input makes the parser or the rendering panic.
    #[test]
    fn no_json_input_panics(value in crate::testing::any_json(KEYS, STRINGS)) {
        if let Ok(ev) = parse(value) {
            let n = render(&ev, &Context::default());
            let _ = n.to_sns_message();
        }
    }

    /// A sample with one part replaced by anything still renders.
    #[test]
    fn mutated_samples_render(which in 0usize..7, path in prop_oneof![
        Just(vec!["detail", "state"]), Just(vec!["detail", "state", "reasonData"]), Just(vec!["detail", "state", "reason"]),
        Just(vec!["detail", "previousState", "timestamp"]), Just(vec!["detail", "configuration", "metrics"]),
        Just(vec!["detail", "configuration"]), Just(vec!["detail", "alarmName"]), Just(vec!["resources"])],
        replacement in crate::testing::any_json(KEYS, STRINGS)) {
        let mut v: Value = serde_json::from_str(SAMPLES[which].1).expect("JSON");
        let mut slot = &mut v;
        for key in &path {
            slot = &mut slot[*key];
        }
        *slot = replacement;
        if let Ok(ev) = parse(v) {
            let n = render(&ev, &Context::default());
            let _ = n.to_sns_message();
        }
    }
}

/// CloudWatch takes any UTF-8 alarm name up to 255 characters. No real public example of a
/// Korean or a 100+ character name was found for the corpus (issue 21), so the cpu sample is
/// renamed here: the condition is still in words, the title fits Chatbot, the SNS subject
/// stays ASCII and the thread stays the alarm's.
#[test]
fn korean_and_255_character_names_render_in_words_within_chats_limits() {
    let korean = "결제-API-지연시간-높음";
    let long = format!("{}-p99-latency", "checkout-service-eu-west-1-".repeat(9));
    assert!(long.chars().count() > 200 && long.chars().count() <= 255);
    for name in [korean.to_string(), long.clone()] {
        let mut raw: Value = serde_json::from_str(SAMPLES[0].1).unwrap();
        raw["detail"]["alarmName"] = json!(name);
        raw["resources"] = json!([format!(
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
        )]);
        let ev = parse(raw).unwrap();
        let n = render(&ev, &default_context(&ev)).fitted();
        assert!(
            render::condition(&ev.detail).contains("was 93.2 %, above the threshold of 80 %"),
            "{name}"
        );
        assert!(
            n.title.chars().count() <= crate::notify::limits::TITLE,
            "{}",
            n.title
        );
        let prefix: String = name.chars().take(20).collect();
        assert!(
            n.title.contains(&prefix),
            "the name is in the title: {}",
            n.title
        );
        let subject = n.subject();
        assert!(subject.is_ascii() && subject.len() < 100, "{subject}");
        assert!(
            n.thread_id.contains(&prefix) || n.thread_id.contains('~'),
            "{}",
            n.thread_id
        );
    }
}
