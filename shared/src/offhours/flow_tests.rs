//! off-hours' whole flow over in-memory AWS (`testing::FakeAws`): a night, the same night
//! again, the morning, a service kept awake, a tick that died half-way.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::offhours::calendar::{parse_windows, Calendar};
use crate::offhours::TagSelection;
use crate::runtime::Handler;
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

/// `web` is back at 2 tasks within 2..10, with no `autopilot:` record left on it.
fn assert_web_restored(off: &OffHours<FakeAws>) {
    let web = off.clients.service("web").expect("web");
    assert_eq!(web.desired, 2);
    assert_eq!(off.clients.with(|s| s.bounds["service/dev/web"]), (2, 10));
    assert!(
        web.tags.keys().all(|k| !k.starts_with(tags::PREFIX)),
        "{:?}",
        web.tags
    );
}

fn off_hours(aws: FakeAws) -> OffHours<FakeAws> {
    OffHours::new(
        aws,
        OffHoursConfig {
            calendar: Calendar {
                windows: parse_windows("Mon-Fri 07:00-19:00").expect("windows"),
                tz: crate::offhours::calendar::Zone::utc(),
                holidays: vec![],
            },
            targets: vec![ServiceRef {
                cluster: "dev".into(),
                service: "web".into(),
            }],
            selection: None,
            topic_arn: "arn:aws:sns:us-east-1:123456789012:chat".into(),
            dry_run: false,
            tick_minutes: 15,
            concurrency: 10,
            alarm_prefix: None,
        },
    )
}

/// Service `web` of cluster `dev`: 2 tasks of 0.5 vCPU / 1 GB, auto scaling 2..10, a CPU alarm.
fn aws(desired: i32, service_tags: &[(&str, &str)]) -> FakeAws {
    let aws = FakeAws::default();
    aws.with(|s| {
        s.service("dev", "web", desired, TD, service_tags);
        s.scalable("dev", "web", 2, 10);
        s.alarm("dev-web-cpu-high", "dev", "web", true);
        s.task_size(TD, 512.0, 1024.0);
        s.fargate_prices("us-east-1", us_east_1());
    });
    aws
}

/// Fargate's prices in us-east-1, as the Price List gives them.
fn us_east_1() -> crate::model::price::FargatePrices {
    use crate::model::price::{FargatePrices, Rates};
    FargatePrices {
        x86: Rates {
            vcpu_hour: 0.04048,
            gb_hour: 0.004445,
        },
        arm: Rates {
            vcpu_hour: 0.03238,
            gb_hour: 0.00356,
        },
        spot_x86: None,
        spot_arm: None,
        storage_gb_hour: 0.000111,
    }
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
        Some("desired=2 min=2 max=10 suspended=none")
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
    assert!(!web.tags.contains_key(tags::SLEEP_STARTED_AT));
    assert_eq!(aws.with(|s| s.bounds["service/dev/web"]), (2, 10));
    assert!(
        aws.with(|s| s.alarms["dev-web-cpu-high"].2),
        "alarms back on"
    );
    assert_eq!(aws.published().len(), 2, "one notification per transition");
}

#[tokio::test]
async fn a_night_reads_everything_it_needs_before_it_changes_anything() {
    let off = off_hours(aws(2, &[]));
    let night = off.handle(tick(NIGHT)).await.expect("night");
    assert_eq!(night["services"][0]["action"], "sleep", "{night}");
    let calls = off.clients.calls.snapshot();
    let first_change = calls
        .iter()
        .position(|c| MUTATING.contains(&c.as_str()))
        .expect("the night changes something");
    for read in [
        "Application Auto Scaling.DescribeScalableTargets",
        "ECS.DescribeTaskDefinition",
        "Pricing.GetProducts",
    ] {
        let at = calls.iter().position(|c| c == read);
        assert!(
            at.is_some_and(|at| at < first_change),
            "{read} after a change: {calls:?}"
        );
    }
    // The capacity is read once, the sizes once: nothing is read again after the plan.
    for read in [
        "Application Auto Scaling.DescribeScalableTargets",
        "ECS.DescribeTaskDefinition",
    ] {
        assert_eq!(calls.iter().filter(|c| *c == read).count(), 1, "{calls:?}");
    }
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
        s.alarm("dev-web-latency", "dev", "web", false);
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

/// The alarms a target-tracking policy on `web` creates, as AWS names them, their action the
/// policy's ARN.
fn with_target_tracking_alarms(aws: &FakeAws) -> [String; 2] {
    let policy = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:7e7a2c4b-0f64-4a8f-9d7e-2f0c1b9a4e11:resource/ecs/service/dev/web:policyName/cpu-target";
    let names = [
        "TargetTracking-service/dev/web-AlarmHigh-3c1e0b8e-5b1f-4a55-9c5d-2b8f9a7d6e01".to_string(),
        "TargetTracking-service/dev/web-AlarmLow-9a2d4c6e-1f3b-4d5a-8e7c-0b1a2c3d4e5f".to_string(),
    ];
    aws.with(|s| {
        for n in &names {
            s.alarms
                .insert(n.clone(), ("dev".into(), "web".into(), true));
            s.alarm_actions.insert(n.clone(), vec![policy.to_string()]);
        }
    });
    names
}

#[tokio::test]
async fn the_alarms_auto_scaling_owns_are_neither_muted_nor_tagged() {
    let aws = aws(2, &[]);
    let tracking = with_target_tracking_alarms(&aws);
    let off = off_hours(aws);
    let night = off.handle(tick(NIGHT)).await.expect("night");
    assert_eq!(night["services"][0]["action"], "sleep", "{night}");
    let untouched = |off: &OffHours<FakeAws>| {
        for n in &tracking {
            assert!(off.clients.with(|s| s.alarms[n].2), "{n} stays on");
            assert!(
                off.clients
                    .with(|s| !s.alarm_tags.contains_key(&crate::testing::alarm_arn(n))),
                "{n} is not tagged"
            );
        }
    };
    untouched(&off);
    assert!(
        !off.clients.with(|s| s.alarms["dev-web-cpu-high"].2),
        "the team's alarm is muted"
    );
    let morning = off.handle(tick(MORNING)).await.expect("morning");
    assert_eq!(morning["services"][0]["action"], "wake", "{morning}");
    untouched(&off);
    assert!(off.clients.with(|s| s.alarms["dev-web-cpu-high"].2));
}

#[tokio::test]
async fn with_an_alarm_prefix_only_the_alarms_the_role_may_touch_are_muted() {
    let aws = aws(2, &[]);
    aws.with(|s| {
        s.alarm("team-web-latency", "dev", "web", true);
    });
    let mut off = off_hours(aws);
    off.config.alarm_prefix = Some("dev-".into());
    let night = off.handle(tick(NIGHT)).await.expect("night");
    assert_eq!(night["services"][0]["action"], "sleep", "{night}");
    assert!(!off.clients.with(|s| s.alarms["dev-web-cpu-high"].2));
    assert!(
        off.clients.with(|s| s.alarms["team-web-latency"].2),
        "outside the prefix: left alone"
    );
    assert!(off.clients.with(|s| !s
        .alarm_tags
        .contains_key(&crate::testing::alarm_arn("team-web-latency"))));
    let morning = off.handle(tick(MORNING)).await.expect("morning");
    assert_eq!(morning["services"][0]["action"], "wake", "{morning}");
    assert!(off.clients.with(|s| s.alarms["dev-web-cpu-high"].2));
}

#[tokio::test]
async fn a_sleep_step_that_fails_never_leaves_a_running_service_marked_asleep() {
    for failing in [
        "CloudWatch.TagResource",
        "CloudWatch.DisableAlarmActions",
        "Application Auto Scaling.RegisterScalableTarget",
        "ECS.UpdateService",
    ] {
        let aws = aws(2, &[]);
        aws.with(|s| s.failing.insert(failing, "AccessDeniedException"));
        let off = off_hours(aws);
        let night = off.handle(tick(NIGHT)).await.expect("night");
        assert_eq!(
            night["services"][0]["action"], "error",
            "{failing}: {night}"
        );
        let web = off.clients.service("web").expect("web");
        assert_eq!(web.desired, 2, "{failing}");
        assert!(
            !web.tags.contains_key(tags::ASLEEP_SINCE),
            "{failing}: a running service is not marked asleep: {:?}",
            web.tags
        );
        // The record is there, so the next tick finishes the sleep from it...
        assert_eq!(
            web.tags.get(tags::SLEEP_STARTED_AT).map(String::as_str),
            Some(NIGHT)
        );
        off.clients.with(|s| s.failing.clear());
        let later = off
            .handle(tick("2026-11-16T22:15:00Z"))
            .await
            .expect("later");
        assert_eq!(
            later["services"][0]["action"], "sleep",
            "{failing}: {later}"
        );
        let web = off.clients.service("web").expect("web");
        assert_eq!(web.desired, 0);
        assert_eq!(
            web.tags.get(tags::ASLEEP_SINCE).map(String::as_str),
            Some(NIGHT),
            "asleep since the sleep began"
        );
        assert_eq!(
            web.tags.get(tags::RESTORE).map(String::as_str),
            Some("desired=2 min=2 max=10 suspended=none")
        );
        // ...and the morning brings it back exactly.
        off.handle(tick(MORNING)).await.expect("morning");
        assert_web_restored(&off);
        assert!(off.clients.with(|s| s.alarms["dev-web-cpu-high"].2));
    }
}

#[tokio::test]
async fn a_record_already_on_the_service_is_the_one_the_scale_down_follows() {
    // A readable autopilot:restore from before (a crash loop's, which holds no suspended state)
    // is kept: scaling must then not be suspended, since the wake could not resume it.
    let aws = aws(2, &[(tags::RESTORE, "desired=2 min=2 max=10")]);
    let off = off_hours(aws);
    let night = off.handle(tick(NIGHT)).await.expect("night");
    let suspended = off
        .clients
        .with(|s| s.suspended.get("service/dev/web").copied());
    assert!(
        suspended.is_none_or(|s| s == crate::model::scaling::Suspended::default()),
        "{night}: {suspended:?}"
    );
    off.handle(tick(MORNING)).await.expect("morning");
    let suspended = off
        .clients
        .with(|s| s.suspended.get("service/dev/web").copied());
    assert!(
        suspended.is_none_or(|s| s == crate::model::scaling::Suspended::default()),
        "scaling left suspended after the wake: {suspended:?}"
    );
}

#[tokio::test]
async fn a_sleep_that_failed_all_night_is_undone_in_the_morning() {
    let aws = aws(2, &[]);
    aws.with(|s| {
        s.failing
            .insert("ECS.UpdateService", "AccessDeniedException")
    });
    let off = off_hours(aws);
    off.handle(tick(NIGHT)).await.expect("night");
    // The alarms were muted and the bounds pinned before UpdateService failed.
    assert!(!off.clients.with(|s| s.alarms["dev-web-cpu-high"].2));
    off.clients.with(|s| s.failing.clear());
    let morning = off.handle(tick(MORNING)).await.expect("morning");
    assert_eq!(morning["services"][0]["action"], "wake", "{morning}");
    assert!(off.clients.with(|s| s.alarms["dev-web-cpu-high"].2));
    assert_web_restored(&off);
}

#[tokio::test]
async fn a_wake_step_that_fails_never_leaves_a_running_service_marked_asleep() {
    let off = off_hours(aws(2, &[]));
    off.handle(tick(NIGHT)).await.expect("night");
    // Removing tags fails: the mark must not outlive the sleep on a service running again.
    off.clients
        .with(|s| s.failing.insert("ECS.UntagResource", "ThrottlingException"));
    let morning = off.handle(tick(MORNING)).await.expect("morning");
    assert_eq!(morning["services"][0]["action"], "error", "{morning}");
    let web = off.clients.service("web").expect("web");
    assert!(
        !(web.desired > 0 && web.tags.contains_key(tags::ASLEEP_SINCE)),
        "desired {} with {:?}",
        web.desired,
        web.tags
    );
    off.clients.with(|s| s.failing.clear());
    let later = off
        .handle(tick("2026-11-17T08:15:00Z"))
        .await
        .expect("later");
    assert_eq!(later["services"][0]["action"], "wake", "{later}");
    assert_web_restored(&off);
}

#[tokio::test]
async fn a_sleeping_services_scaling_is_suspended_and_its_own_state_comes_back() {
    use crate::model::scaling::Suspended;
    let aws = aws(2, &[]);
    // A person had suspended scale-in; nothing else.
    let before = Suspended {
        dynamic_in: true,
        ..Suspended::default()
    };
    aws.with(|s| s.suspended.insert("service/dev/web".into(), before));
    let off = off_hours(aws);
    let night = off.handle(tick(NIGHT)).await.expect("night");
    assert_eq!(
        night["services"][0]["restore"]["suspended"],
        json!({"dynamicIn": true, "dynamicOut": false, "scheduled": false}),
        "{night}"
    );
    assert_eq!(
        off.clients.with(|s| s.suspended["service/dev/web"]),
        Suspended::ALL,
        "no scheduled action or policy can bring tasks back at night"
    );
    assert_eq!(
        off.clients
            .service("web")
            .and_then(|w| w.tags.get(tags::RESTORE).cloned())
            .as_deref(),
        Some("desired=2 min=2 max=10 suspended=in")
    );
    off.handle(tick(MORNING)).await.expect("morning");
    assert_eq!(off.clients.with(|s| s.suspended["service/dev/web"]), before);
    assert_eq!(off.clients.with(|s| s.bounds["service/dev/web"]), (2, 10));
}

#[tokio::test]
async fn a_record_from_before_the_suspended_state_wakes_without_touching_it() {
    use crate::model::scaling::Suspended;
    // Put to sleep by the previous version: no suspended state recorded, no start mark.
    let aws = aws(
        0,
        &[
            (tags::RESTORE, "desired=2 min=2 max=10"),
            (tags::ASLEEP_SINCE, "2026-11-16T19:00:00Z"),
        ],
    );
    let theirs = Suspended {
        scheduled: true,
        ..Suspended::default()
    };
    aws.with(|s| {
        s.scalable("dev", "web", 0, 0);
        s.suspended.insert("service/dev/web".into(), theirs);
    });
    let off = off_hours(aws);
    let morning = off.handle(tick(MORNING)).await.expect("morning");
    assert_eq!(morning["services"][0]["action"], "wake", "{morning}");
    assert_eq!(off.clients.with(|s| s.suspended["service/dev/web"]), theirs);
    assert_web_restored(&off);
}

/// `api` of cluster `staging` and `batch` of cluster `dev`, tagged `autopilot:off-hours` with
/// `api_value` and `batch_value`, 1 task each, selected by tag (in `clusters`, or everywhere).
fn tagged(api_value: &str, batch_value: &str, clusters: &[&str]) -> OffHours<FakeAws> {
    let aws = aws(2, &[]);
    aws.with(|s| {
        for (cluster, name, value) in [("staging", "api", api_value), ("dev", "batch", batch_value)]
        {
            s.service(cluster, name, 1, TD, &[(tags::OFF_HOURS, value)]);
        }
    });
    let mut off = off_hours(aws);
    off.config.selection = Some(TagSelection {
        key: tags::OFF_HOURS.into(),
        value: "enabled".into(),
        clusters: clusters.iter().map(|c| c.to_string()).collect(),
    });
    off
}

fn action(out: &Value, service: &str) -> String {
    out["services"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["service"] == service))
        .and_then(|s| s["action"].as_str())
        .unwrap_or("missing")
        .to_string()
}

#[tokio::test]
async fn a_selection_value_in_another_case_selects_and_a_bad_one_is_reported_once() {
    // Everywhere (GetResources by key), and in named clusters (ListServices).
    for clusters in [&[][..], &["dev", "staging"][..]] {
        let off = tagged("Enabled ", "yes", clusters);
        let night = off.handle(tick(NIGHT)).await.expect("night");
        assert_eq!(action(&night, "api"), "sleep", "{clusters:?}: {night}");
        assert_eq!(
            action(&night, "batch"),
            "missing",
            "{clusters:?}: not selected"
        );
        assert_eq!(off.clients.service("batch").map(|s| s.desired), Some(1));
        assert_eq!(night["tagProblems"][0]["tag"], tags::OFF_HOURS, "{night}");
        assert_eq!(night["tagProblems"][0]["value"], "yes", "{night}");
        let notices: Vec<_> = off
            .clients
            .published()
            .into_iter()
            .filter(|n| n.id.starts_with("tag-problem:off-hours:"))
            .collect();
        assert_eq!(notices.len(), 1, "{clusters:?}");
        assert_eq!(
            off.clients
                .service("batch")
                .and_then(|s| s.tags.get(tags::OFF_HOURS_TAG_PROBLEM).cloned())
                .as_deref(),
            Some("autopilot:off-hours=yes")
        );
        let again = off
            .handle(tick("2026-11-16T22:15:00Z"))
            .await
            .expect("again");
        assert_eq!(again["tagProblems"][0]["reported"], true, "{again}");
        assert_eq!(
            off.clients
                .published()
                .iter()
                .filter(|n| n.id.starts_with("tag-problem:off-hours:"))
                .count(),
            1,
            "{clusters:?}: said once"
        );
    }
}

#[tokio::test]
async fn a_night_is_priced_from_the_price_list_and_says_so() {
    let off = off_hours(aws(2, &[]));
    let night = off.handle(tick(NIGHT)).await.expect("night");
    assert_eq!(night["estimatedSavings"], json!(0.44), "{night}");
    assert_eq!(
        night["priceBasis"],
        json!(["Priced from the AWS Price List API (us-east-1)."]),
        "{night}"
    );
}

#[tokio::test]
async fn without_the_price_list_the_night_is_priced_from_the_compiled_in_table_and_says_so() {
    let aws = aws(2, &[]);
    // As in the emulator, which has no Price List API.
    aws.with(|s| s.prices.clear());
    let off = off_hours(aws);
    let night = off
        .handle(tick(NIGHT))
        .await
        .expect("the tick does not fail for it");
    assert_eq!(night["services"][0]["action"], "sleep", "{night}");
    // The compiled-in us-east-1 prices are the Price List's: the same 0.44.
    assert_eq!(night["estimatedSavings"], json!(0.44), "{night}");
    let basis = format!(
        "Priced from compiled-in prices of {} (us-east-1): the AWS Price List API could not be read.",
        pricing::COMPILED_IN_DATE
    );
    assert_eq!(night["priceBasis"], json!([basis]), "{night}");
    let published = off.clients.published();
    assert!(
        published[0].description.contains(&basis),
        "{}",
        published[0].description
    );
}

#[tokio::test]
async fn the_price_list_is_read_once_per_region_for_the_life_of_the_process() {
    let aws = aws(2, &[]);
    aws.with(|s| {
        // api runs in eu-west-1, whose prices cannot be read: it is not asked again either.
        let api = s.service("dev", "api", 2, TD, &[]);
        api.arn = "arn:aws:ecs:eu-west-1:123456789012:service/dev/api".into();
        s.scalable("dev", "api", 2, 10);
    });
    let mut off = off_hours(aws);
    off.config.targets.push(ServiceRef {
        cluster: "dev".into(),
        service: "api".into(),
    });
    // The GetProducts of the last invocation (each one starts a new call log).
    let reads = |off: &OffHours<FakeAws>| {
        off.clients
            .calls
            .snapshot()
            .iter()
            .filter(|c| *c == "Pricing.GetProducts")
            .count()
    };
    let night = off.handle(tick(NIGHT)).await.expect("night");
    assert_eq!(reads(&off), 2, "one per region");
    assert_eq!(
        night["priceBasis"],
        json!([
            "Priced from the AWS Price List API (us-east-1).",
            format!("Priced from compiled-in prices of {} (eu-west-1): the AWS Price List API could not be read.", pricing::COMPILED_IN_DATE)
        ]),
        "{night}"
    );
    off.handle(tick(MORNING)).await.expect("morning");
    let next = off
        .handle(tick("2026-11-17T22:00:00Z"))
        .await
        .expect("next night");
    assert_eq!(next["services"][0]["action"], "sleep", "{next}");
    assert_eq!(reads(&off), 0, "{:?}", off.clients.calls.snapshot());
    assert_eq!(next["priceBasis"], night["priceBasis"]);
}

#[tokio::test]
async fn the_night_is_counted_to_the_second() {
    let off = off_hours(aws(100, &[]));
    // 8 h 59 min 59 s to 07:00: 100 x (0.5 x 0.04048 + 1 x 0.004445) x 8.99972 = 22.2158
    // (counted in whole minutes it would be 22.18).
    let night = off
        .handle(tick("2026-11-16T22:00:01Z"))
        .await
        .expect("night");
    assert_eq!(night["estimatedSavings"], json!(22.22), "{night}");
}

#[tokio::test]
async fn a_spot_arm_service_in_eu_west_1_and_an_x86_one_in_us_east_1_are_each_priced_as_billed() {
    const BATCH_TD: &str = "arn:aws:ecs:eu-west-1:123456789012:task-definition/batch:1";
    let aws = aws(2, &[]);
    aws.with(|s| {
        let batch = s.service("dev", "batch", 2, BATCH_TD, &[]);
        batch.arn = "arn:aws:ecs:eu-west-1:123456789012:service/dev/batch".into();
        batch.capacity_providers = vec![crate::model::service::ProviderShare {
            provider: "FARGATE_SPOT".into(),
            base: 0,
            weight: 1,
        }];
        s.scalable("dev", "batch", 2, 10);
        s.task_size(BATCH_TD, 1024.0, 2048.0);
        s.task_platform(BATCH_TD, crate::model::price::Arch::Arm, 20.0);
        // Ireland's prices are N. Virginia's.
        s.fargate_prices("eu-west-1", us_east_1());
    });
    let mut off = off_hours(aws);
    off.config.targets.push(ServiceRef {
        cluster: "dev".into(),
        service: "batch".into(),
    });
    let night = off.handle(tick(NIGHT)).await.expect("night");
    // web: 2 x 9 h x (0.5 x 0.04048 + 1 x 0.004445) = 0.44433;
    // batch: 2 x 9 h x 30% x (1 x 0.03238 + 2 x 0.00356) = 0.21330.
    assert_eq!(night["estimatedSavings"], json!(0.66), "{night}");
    assert_eq!(
        night["priceBasis"],
        json!([
            "Priced from the AWS Price List API (eu-west-1, us-east-1).",
            "Fargate Spot: an estimate at 30% of the on-demand price (AWS publishes Spot as up to 70% off; its price varies and is not in the Price List)."
        ]),
        "{night}"
    );
}

/// Two services on one install: `web` on the install's hours (UTC), `api` on its own
/// (`America/Los_Angeles`, by tag). At 22:00 UTC on a Monday (14:00 in Los Angeles) `web`
/// sleeps and `api` stays up; at 02:00 UTC on Tuesday (18:00 in Los Angeles, its own end) `api`
/// sleeps too; each wakes on its own morning. Savings count each service's own night.
#[tokio::test]
async fn each_service_sleeps_and_wakes_on_its_own_calendar() {
    let aws = aws(2, &[]);
    aws.with(|s| {
        s.service(
            "dev",
            "api",
            2,
            TD,
            &[
                ("autopilot:off-hours-on", "Mon-Fri 08:00-18:00"),
                ("autopilot:off-hours-timezone", "America/Los_Angeles"),
            ],
        );
        s.scalable("dev", "api", 2, 10);
    });
    let mut off = off_hours(aws);
    off.config.targets.push(ServiceRef {
        cluster: "dev".into(),
        service: "api".into(),
    });
    let action = |report: &Value, name: &str| {
        report["services"]
            .as_array()
            .and_then(|s| s.iter().find(|p| p["service"] == name))
            .map(|p| p["action"].clone())
            .unwrap_or_default()
    };
    let night = off.handle(tick(NIGHT)).await.expect("tick");
    assert_eq!(
        (action(&night, "web"), action(&night, "api")),
        (json!("sleep"), json!("none")),
        "{night}"
    );
    // Until web's 07:00 UTC: 2 x (0.5 x 0.04048 + 1 x 0.004445) x 9 h.
    assert_eq!(night["estimatedSavings"], json!(0.44), "{night}");
    let late = off
        .handle(tick("2026-11-17T02:00:00Z"))
        .await
        .expect("tick");
    assert_eq!(action(&late, "api"), json!("sleep"), "{late}");
    // api sleeps until 08:00 in Los Angeles, 16:00 UTC: 14 hours.
    assert_eq!(late["estimatedSavings"], json!(0.69), "{late}");
    let web_morning = off.handle(tick(MORNING)).await.expect("tick");
    assert_eq!(
        (action(&web_morning, "web"), action(&web_morning, "api")),
        (json!("wake"), json!("none")),
        "08:00 UTC is midnight in Los Angeles: {web_morning}"
    );
    let api_morning = off
        .handle(tick("2026-11-17T16:00:00Z"))
        .await
        .expect("tick");
    assert_eq!(action(&api_morning, "api"), json!("wake"), "{api_morning}");
    assert_eq!(off.clients.service("api").expect("api").desired, 2);
}

/// A schedule tag off-hours cannot use: the service stays as it is (here awake at night), the
/// tag is said once in its thread and remembered, and the other services go on.
#[tokio::test]
async fn a_bad_schedule_tag_leaves_the_service_as_it_is_and_is_said_once() {
    let off = off_hours(aws(
        2,
        &[("autopilot:off-hours-timezone", "Mars/Olympus_Mons")],
    ));
    let night = off.handle(tick(NIGHT)).await.expect("tick");
    assert_eq!(night["services"][0]["action"], "skip", "{night}");
    assert_eq!(off.clients.service("web").expect("web").desired, 2);
    assert_eq!(
        night["tagProblems"][0]["tag"], "autopilot:off-hours-timezone",
        "{night}"
    );
    let told = off.clients.published();
    assert!(
        told.iter()
            .any(|n| n.description.contains("Mars/Olympus_Mons")
                && n.description.contains("IANA time zone")),
        "{told:?}"
    );
    assert_eq!(
        off.clients
            .service("web")
            .expect("web")
            .tags
            .get("autopilot:off-hours-schedule-problem")
            .map(String::as_str),
        Some("autopilot:off-hours-timezone=Mars/Olympus_Mons")
    );
    let before = off.clients.published().len();
    off.handle(tick("2026-11-16T22:15:00Z"))
        .await
        .expect("tick");
    assert_eq!(off.clients.published().len(), before, "said once");
}
