//! The weekly account over the in-memory fake: two weeks of the functions' metrics read back
//! into one message, against last week, in the same thread every week.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::fake::Point;
use super::plan::{self, Week};
use super::*;
use crate::runtime::Handler;
use crate::testing::FakeAws;

const END: &str = "2026-11-30T08:00:00Z"; // Monday 08:00 UTC

fn end() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(END)
        .unwrap()
        .with_timezone(&Utc)
}

fn config() -> WeeklyConfig {
    WeeklyConfig {
        topic_arn: "arn:aws:sns:us-east-1:123456789012:chat".into(),
        install: "shop-prod".into(),
        dry_run: false,
    }
}

/// `value` of `metric` of `function` (with `by`), `days_ago` before the end.
fn point(
    function: &str,
    metric: &str,
    by: Option<(&str, &str)>,
    days_ago: i64,
    value: f64,
) -> Point {
    let mut dimensions = vec![("Function".to_string(), format!("shop-prod-{function}"))];
    if let Some((k, v)) = by {
        dimensions.push((k.to_string(), v.to_string()));
    }
    Point {
        name: metric.into(),
        dimensions,
        at: end() - Duration::days(days_ago) - Duration::hours(1),
        value,
    }
}

/// This week (days 0-6 before the end) and last (7-13), as the functions would have emitted.
fn two_weeks() -> FakeAws {
    let aws = FakeAws::default();
    aws.with(|s| {
        s.points = vec![
            point("deployer", "Deploys", None, 2, 6.0),
            point("deployer", "DeploymentsCompleted", None, 2, 5.0),
            point("deployer", "DeploymentsRolledBack", None, 3, 1.0),
            point("deployer", "DeploymentsCompleted", None, 9, 3.0),
            point("task-watcher", "StoppedTasks", None, 1, 12.0),
            point(
                "task-watcher",
                "StoppedTasks",
                Some(("Cause", "out-of-memory")),
                1,
                8.0,
            ),
            point(
                "task-watcher",
                "StoppedTasks",
                Some(("Cause", "image-pull")),
                1,
                4.0,
            ),
            point("task-watcher", "StoppedTasks", None, 10, 20.0),
            point("task-watcher", "CrashLoops", None, 1, 2.0),
            point("alarm-notifier", "AlarmsPublished", None, 4, 6.0),
            point(
                "alarm-notifier",
                "AlarmsPublished",
                Some(("Severity", "critical")),
                4,
                2.0,
            ),
            point(
                "alarm-notifier",
                "AlarmsPublished",
                Some(("Severity", "warning")),
                4,
                4.0,
            ),
            point("alarm-notifier", "AlarmsSuppressed", None, 4, 3.0),
            // 200 and 100 ticks asleep: 50 and 25 service-hours.
            point("off-hours", "ServicesAsleep", None, 5, 300.0),
            point(
                "off-hours",
                "ServicesAsleep",
                Some(("Service", "prod/web")),
                5,
                200.0,
            ),
            point(
                "off-hours",
                "ServicesAsleep",
                Some(("Service", "prod/api")),
                5,
                100.0,
            ),
            point("off-hours", "EstimatedSavingsUSD", None, 5, 14.7),
            point(
                "off-hours",
                "EstimatedSavingsUSD",
                Some(("Service", "prod/web")),
                5,
                10.5,
            ),
            point(
                "off-hours",
                "EstimatedSavingsUSD",
                Some(("Service", "prod/api")),
                5,
                4.2,
            ),
            point("off-hours", "EstimatedSavingsUSD", None, 12, 12.0),
            // Another install's metrics, in the same account: never counted.
            Point {
                name: "DeploymentsCompleted".into(),
                dimensions: vec![("Function".into(), "shop-dev-deployer".into())],
                at: end() - Duration::days(1),
                value: 40.0,
            },
        ];
    });
    aws
}

fn scheduled(at: &str) -> serde_json::Value {
    json!({"version": "0", "id": "weekly", "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "123456789012", "time": at, "region": "us-east-1",
           "resources": ["arn:aws:events:us-east-1:123456789012:rule/weekly"], "detail": {}})
}

#[tokio::test]
async fn a_week_of_the_functions_metrics_reads_as_one_message_against_last_week() {
    let w = WeeklyAccount::new(two_weeks(), config());
    let report = w.handle(scheduled(END)).await.expect("handled");
    assert_eq!(report["thisWeek"]["completed"], 5.0, "{report}");
    assert_eq!(report["lastWeek"]["completed"], 3.0, "{report}");
    let n = w.clients.published().pop().expect("a message");
    assert_eq!(
        n.title,
        "shop-prod, week to 30 Nov: 5 deploys, 1 failed or rolled back, 2 crash loops caught, $14.70 saved asleep"
    );
    for line in [
        "Deploys: 5 completed, 0 failed, 1 rolled back (+2 on last week); 6 started from pushes.",
        "Stopped tasks: 12: out-of-memory 8, image-pull 4 (-8 on last week); 2 crash loops caught, 0 tasks restarted.",
        "Alarms: 6 sent to chat (warning 4, critical 2), 3 kept quiet (flapping, or a service asleep) (+6 on last week).",
        "Asleep: 75 service-hours, about $14.70 of Fargate saved (+$2.70 on last week); by service: prod/web $10.50, prod/api $4.20.",
    ] {
        assert!(n.description.contains(line), "{line}\nnot in\n{}", n.description);
    }
    assert_eq!(n.thread_id, "autopilot-weekly-shop-prod");
    assert_eq!(
        w.clients.calls.snapshot(),
        [
            "CloudWatch.ListMetrics",
            "CloudWatch.ListMetrics",
            "CloudWatch.ListMetrics",
            "CloudWatch.ListMetrics",
            "CloudWatch.ListMetrics",
            "CloudWatch.GetMetricData",
            "SNS.Publish"
        ]
    );
}

#[tokio::test]
async fn every_week_goes_to_the_same_thread_with_its_own_message() {
    let w = WeeklyAccount::new(two_weeks(), config());
    w.handle(scheduled(END)).await.expect("handled");
    w.handle(scheduled("2026-12-07T08:00:00Z"))
        .await
        .expect("handled");
    let told = w.clients.published();
    assert_eq!(told[0].thread_id, told[1].thread_id);
    assert_ne!(told[0].id, told[1].id);
    // The week after: nothing this week, all of it the week before.
    assert!(
        told[1]
            .description
            .contains("Deploys: 0 completed, 0 failed, 0 rolled back (-5 on last week)"),
        "{}",
        told[1].description
    );
}

#[tokio::test]
async fn a_quiet_week_says_so() {
    let w = WeeklyAccount::new(FakeAws::default(), config());
    w.handle(scheduled(END)).await.expect("handled");
    let n = w.clients.published().pop().expect("a message");
    assert!(
        n.title.starts_with("shop-prod: a quiet week"),
        "{}",
        n.title
    );
    assert!(
        !n.description.contains("Asleep:"),
        "no off-hours, no sleep line: {}",
        n.description
    );
}

#[tokio::test]
async fn a_read_that_fails_fails_the_invocation_naming_the_call() {
    let aws = two_weeks();
    aws.with(|s| {
        s.failing
            .insert("CloudWatch.GetMetricData", "ThrottlingException")
    });
    let w = WeeklyAccount::new(aws, config());
    let e = w.handle(scheduled(END)).await.unwrap_err();
    assert!(e.to_string().contains("GetMetricData"), "{e}");
    assert!(w.clients.published().is_empty(), "no half account");
}

#[test]
fn the_figures_are_every_told_total_and_each_breakdown_seen() {
    let breakdowns =
        std::collections::BTreeMap::from([("StoppedTasks", vec!["out-of-memory".to_string()])]);
    let figures = plan::figures("shop-prod", &breakdowns);
    assert!(figures.iter().all(|f| f.function.starts_with("shop-prod-")));
    assert_eq!(figures.iter().filter(|f| f.by.is_some()).count(), 1);
    let totals = figures.iter().filter(|f| f.by.is_none()).count();
    let told: usize = plan::TOLD.iter().map(|(_, m)| m.len()).sum();
    assert_eq!(totals, told);
    assert_eq!(Week::of(&plan::Sums::new()), Week::default());
}

#[test]
fn the_install_name_is_checked_at_init() {
    let env = [
        (
            "NOTIFY_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:chat",
        ),
        ("INSTALL", "shop prod!"),
    ];
    let e = WeeklyConfig::from(&crate::config::Env::from_pairs(&env)).unwrap_err();
    assert!(e.to_string().contains("INSTALL"), "{e}");
}

/// Every figure the account reads is a metric a function emits: namespace, name, function and
/// dimension keys, against the catalogue the functions count with.
#[test]
fn every_figure_the_account_reads_is_one_a_function_emits() {
    let emitted = crate::metrics::identities();
    let mut breakdowns = std::collections::BTreeMap::new();
    for (_, metrics) in plan::TOLD {
        for m in metrics.iter().filter(|m| m.by.is_some()) {
            breakdowns.insert(m.name, vec!["some-value".to_string()]);
        }
    }
    let figures = plan::figures("shop-prod", &breakdowns);
    assert!(figures.iter().any(|f| f.by.is_some()));
    for f in figures {
        let mut dimensions = vec!["Function".to_string()];
        if let Some((k, _)) = &f.by {
            dimensions.push(k.to_string());
        }
        dimensions.sort();
        let identity = crate::metrics::Identity {
            namespace: crate::metrics::NAMESPACE.into(),
            name: f.metric.into(),
            function: f
                .function
                .strip_prefix("shop-prod-")
                .unwrap_or_default()
                .into(),
            dimensions,
        };
        assert!(emitted.contains(&identity), "{identity:?} is not emitted");
    }
}
