//! off-hours' whole flow over in-memory AWS (`testing::FakeAws`): a night, the same night
//! again, the morning, a service kept awake, a tick that died half-way.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::offhours::calendar::{parse_windows, Calendar};
use crate::service::ServiceSnapshot;
use crate::tags;
use crate::testing::FakeAws;

const NIGHT: &str = "2026-11-16T22:00:00Z"; // Monday 22:00 UTC
const MORNING: &str = "2026-11-17T08:00:00Z"; // Tuesday 08:00 UTC
const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3";
const MUTATING: &[&str] = &[
    "ECS.TagResource",
    "ECS.UntagResource",
    "ECS.UpdateService",
    "Application Auto Scaling.RegisterScalableTarget",
    "CloudWatch.DisableAlarmActions",
    "CloudWatch.EnableAlarmActions",
    "CloudWatch.TagResource",
    "CloudWatch.UntagResource",
    "SNS.Publish",
];

fn off_hours(aws: FakeAws) -> OffHours<FakeAws> {
    OffHours::new(
        aws,
        OffHoursConfig {
            calendar: Calendar {
                windows: parse_windows("Mon-Fri 07:00-19:00").expect("windows"),
                tz: chrono_tz::UTC,
                holidays: vec![],
            },
            targets: vec![ServiceRef {
                cluster: "dev".into(),
                service: "web".into(),
            }],
            selection: None,
            topic_arn: "arn:aws:sns:us-east-1:123456789012:chat".into(),
            dry_run: false,
            price_vcpu_hour: 0.04048,
            price_gb_hour: 0.004445,
            tick_minutes: 15,
            concurrency: 10,
        },
    )
}

/// Service `web` of cluster `dev`: 2 tasks of 0.5 vCPU / 1 GB, auto scaling 2..10, a CPU alarm.
fn aws(desired: i32, service_tags: &[(&str, &str)]) -> FakeAws {
    let aws = FakeAws::default();
    aws.with(|s| {
        s.services.push(ServiceSnapshot {
            cluster: "dev".into(),
            name: "web".into(),
            arn: "arn:aws:ecs:us-east-1:123456789012:service/dev/web".into(),
            status: "ACTIVE".into(),
            desired,
            task_definition: TD.into(),
            tags: service_tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ServiceSnapshot::default()
        });
        s.bounds.insert("service/dev/web".into(), (2, 10));
        s.alarms.insert(
            "dev-web-cpu-high".into(),
            ("dev".into(), "web".into(), true),
        );
        s.sizes.insert(TD.into(), (512.0, 1024.0));
    });
    aws
}

fn tick(time: &str) -> Value {
    json!({"version": "0", "id": "tick", "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "123456789012", "time": time, "region": "us-east-1",
           "resources": ["arn:aws:events:us-east-1:123456789012:rule/off-hours"], "detail": {}})
}

fn mutating(aws: &FakeAws) -> Vec<String> {
    aws.calls
        .snapshot()
        .into_iter()
        .filter(|c| MUTATING.contains(&c.as_str()))
        .collect()
}

#[tokio::test]
async fn a_night_and_a_morning_put_the_service_back_exactly_as_it_was() {
    let off = off_hours(aws(2, &[]));
    let night = off.handle(tick(NIGHT)).await.expect("night");
    assert_eq!(night["services"][0]["action"], "sleep", "{night}");
    let aws = &off.clients;
    let web = aws.service("web").expect("web");
    assert_eq!(web.desired, 0);
    assert_eq!(
        web.tags.get(tags::RESTORE).map(String::as_str),
        Some("desired=2 min=2 max=10")
    );
    assert_eq!(
        web.tags.get(tags::ASLEEP_SINCE).map(String::as_str),
        Some(NIGHT)
    );
    assert_eq!(aws.with(|s| s.bounds["service/dev/web"]), (0, 0));
    assert!(
        !aws.with(|s| s.alarms["dev-web-cpu-high"].2),
        "alarms muted at night"
    );
    // The record is written before anything changes.
    assert_eq!(
        mutating(aws).first().map(String::as_str),
        Some("ECS.TagResource")
    );
    // 2 tasks x 0.5 vCPU and 1 GB x 9 hours until 07:00.
    assert_eq!(night["estimatedSavings"], json!(0.44), "{night}");

    let morning = off.handle(tick(MORNING)).await.expect("morning");
    assert_eq!(morning["services"][0]["action"], "wake", "{morning}");
    let web = aws.service("web").expect("web");
    assert_eq!(web.desired, 2);
    assert!(!web.tags.contains_key(tags::RESTORE) && !web.tags.contains_key(tags::ASLEEP_SINCE));
    assert_eq!(aws.with(|s| s.bounds["service/dev/web"]), (2, 10));
    assert!(
        aws.with(|s| s.alarms["dev-web-cpu-high"].2),
        "alarms back on"
    );
    assert_eq!(aws.published().len(), 2, "one notification per transition");
}

#[tokio::test]
async fn the_same_night_again_changes_nothing() {
    let off = off_hours(aws(2, &[]));
    off.handle(tick(NIGHT)).await.expect("night");
    let again = off
        .handle(tick("2026-11-16T22:15:00Z"))
        .await
        .expect("again");
    assert_eq!(again["services"][0]["action"], "none", "{again}");
    assert!(
        mutating(&off.clients).is_empty(),
        "{:?}",
        off.clients.calls.snapshot()
    );
    assert!(again.get("notificationId").is_none());
}

#[tokio::test]
async fn a_service_kept_awake_is_skipped_and_said_so() {
    let off = off_hours(aws(2, &[(tags::KEEP_AWAKE_UNTIL, "2026-11-17T02:00:00Z")]));
    let night = off.handle(tick(NIGHT)).await.expect("night");
    assert_eq!(night["services"][0]["action"], "skip", "{night}");
    assert_eq!(off.clients.service("web").map(|s| s.desired), Some(2));
    assert!(mutating(&off.clients).is_empty());
}

#[tokio::test]
async fn a_tick_that_died_half_way_is_finished_from_its_record() {
    // The record and the sleep stamp are there, the service still runs: the last tick died
    // after tagging. The next one finishes without rewriting the record.
    let off = off_hours(aws(
        2,
        &[
            (tags::RESTORE, "desired=3 min=3 max=12"),
            (tags::ASLEEP_SINCE, "2026-11-16T21:45:00Z"),
        ],
    ));
    let night = off.handle(tick(NIGHT)).await.expect("night");
    assert_eq!(night["services"][0]["action"], "sleep", "{night}");
    let web = off.clients.service("web").expect("web");
    assert_eq!(web.desired, 0);
    assert_eq!(
        web.tags.get(tags::RESTORE).map(String::as_str),
        Some("desired=3 min=3 max=12")
    );
    assert_eq!(
        web.tags.get(tags::ASLEEP_SINCE).map(String::as_str),
        Some("2026-11-16T21:45:00Z")
    );
    assert!(!off
        .clients
        .calls
        .snapshot()
        .iter()
        .any(|c| c == "ECS.TagResource"));
}

#[tokio::test]
async fn a_dry_run_night_changes_nothing_and_says_so_once() {
    let mut off = off_hours(aws(2, &[]));
    off.config.dry_run = true;
    // The first tick after 19:00 says what would happen...
    let dusk = off
        .handle(tick("2026-11-16T19:00:00Z"))
        .await
        .expect("dusk");
    assert_eq!(dusk["services"][0]["action"], "sleep", "{dusk}");
    assert_eq!(mutating(&off.clients), ["SNS.Publish"]);
    let published = off.clients.published();
    assert!(
        published[0].title.ends_with("[dry run]"),
        "{}",
        published[0].title
    );
    // ...and the ticks after it, which plan the same (nothing changed), stay quiet.
    for later in ["2026-11-16T19:15:00Z", NIGHT] {
        let again = off.handle(tick(later)).await.expect("later");
        assert_eq!(again["services"][0]["action"], "sleep", "{again}");
        assert!(again.get("notificationId").is_none(), "{later}: {again}");
    }
    assert_eq!(off.clients.published().len(), 1);
    // The morning's boundary says the would-be wake... of a service that never slept: nothing.
    let dawn = off
        .handle(tick("2026-11-17T07:00:00Z"))
        .await
        .expect("dawn");
    assert_eq!(dawn["services"][0]["action"], "none", "{dawn}");
}

#[test]
fn what_is_announced_when() {
    let p = |action: Action, retryable: Option<bool>| Planned {
        cluster: "dev".into(),
        service: "web".into(),
        action,
        reason: String::new(),
        restore: None,
        resume: false,
        error: retryable.map(|retryable| crate::error::Failure {
            code: "X".into(),
            retryable,
        }),
    };
    let sleep = [p(Action::Sleep, None)];
    let throttled = [p(Action::Error, Some(true))];
    let damaged = [p(Action::Error, Some(false))];
    let quiet = [p(Action::None, None), p(Action::Skip, None)];
    // (services, dry run, first tick after a boundary) -> announced
    for (services, dry, boundary, expected) in [
        (&sleep[..], false, false, true),
        (&sleep[..], true, false, false),
        (&sleep[..], true, true, true),
        (&throttled[..], false, false, true),
        (&damaged[..], false, false, false),
        (&damaged[..], false, true, true),
        (&damaged[..], true, true, true),
        (&quiet[..], false, true, false),
        (&quiet[..], true, true, false),
    ] {
        assert_eq!(
            announce(services, dry, boundary),
            expected,
            "{:?} dry {dry} boundary {boundary}",
            services.iter().map(|s| s.action).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn the_night_and_morning_read_as_their_snapshots() {
    let off = off_hours(aws(2, &[]));
    off.handle(tick(NIGHT)).await.expect("night");
    off.handle(tick(MORNING)).await.expect("morning");
    let published = off.clients.published();
    assert_eq!(published.len(), 2);
    for (name, n) in ["asleep", "awake"].iter().zip(&published) {
        insta::assert_snapshot!(format!("off-hours-{name}.email"), n.to_text());
    }
}

#[tokio::test]
async fn an_alarm_a_person_turned_off_stays_off_after_the_night() {
    let aws = aws(2, &[]);
    aws.with(|s| {
        s.alarms.insert(
            "dev-web-latency".into(),
            ("dev".into(), "web".into(), false),
        );
    });
    let off = off_hours(aws);
    off.handle(tick(NIGHT)).await.expect("night");
    let mark = |name: &str| {
        off.clients.with(|s| {
            s.alarm_tags
                .get(&crate::testing::alarm_arn(name))
                .and_then(|t| t.get(tags::MUTED_BY).cloned())
        })
    };
    assert_eq!(mark("dev-web-cpu-high").as_deref(), Some("off-hours"));
    assert_eq!(mark("dev-web-latency"), None, "not off-hours' to mute");
    // The mark is written before the alarm is muted.
    let calls = off.clients.calls.snapshot();
    let at = |c: &str| calls.iter().position(|x| x == c).unwrap_or(usize::MAX);
    assert!(
        at("CloudWatch.TagResource") < at("CloudWatch.DisableAlarmActions"),
        "{calls:?}"
    );

    off.handle(tick(MORNING)).await.expect("morning");
    let enabled = |name: &str| off.clients.with(|s| s.alarms[name].2);
    assert!(
        enabled("dev-web-cpu-high"),
        "off-hours' own alarm is back on"
    );
    assert!(
        !enabled("dev-web-latency"),
        "the alarm a person turned off stays off"
    );
    assert_eq!(
        mark("dev-web-cpu-high"),
        None,
        "the mark goes with the wake"
    );
}

#[tokio::test]
async fn a_stale_mark_on_an_alarm_a_person_turned_off_is_cleared_at_dusk() {
    // A wake died after turning the alarm on and before removing its mark; by day a person
    // turned it off. The next night must not adopt it, the next morning must not turn it on.
    let aws = aws(2, &[]);
    aws.with(|s| {
        s.alarms.get_mut("dev-web-cpu-high").expect("alarm").2 = false;
        s.alarm_tags.insert(
            crate::testing::alarm_arn("dev-web-cpu-high"),
            BTreeMap::from([(tags::MUTED_BY.to_string(), "off-hours".to_string())]),
        );
    });
    let off = off_hours(aws);
    off.handle(tick(NIGHT)).await.expect("night");
    off.handle(tick(MORNING)).await.expect("morning");
    assert!(!off.clients.with(|s| s.alarms["dev-web-cpu-high"].2));
}

#[tokio::test]
async fn a_cluster_given_by_arn_still_finds_the_services_alarms() {
    let mut off = off_hours(aws(2, &[]));
    off.config.targets[0].cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/dev".into();
    let night = off.handle(tick(NIGHT)).await.expect("night");
    assert_eq!(night["services"][0]["action"], "sleep", "{night}");
    assert!(
        !off.clients.with(|s| s.alarms["dev-web-cpu-high"].2),
        "the alarm's ClusterName dimension is the cluster's name"
    );
}
