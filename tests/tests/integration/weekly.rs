//! The weekly account against the emulator: the functions' metrics put into its CloudWatch (as
//! Lambda's log pipeline would from their EMF lines), read back with ListMetrics and
//! GetMetricData, and the week's message read from the topic.

use autopilot_core::runtime::Handler;
use autopilot_core::weekly::{WeeklyAccount, WeeklyConfig};
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use chrono::{Duration, Utc};
use integration_tests::{Emulator, Stack};
use serde_json::json;

/// `value` of `metric` of the install's `function` (with a breakdown), `days_ago` days back.
fn datum(
    function: &str,
    metric: &str,
    by: Option<(&str, &str)>,
    days_ago: i64,
    value: f64,
) -> MetricDatum {
    let at = Utc::now() - Duration::days(days_ago) - Duration::hours(1);
    let mut d = MetricDatum::builder()
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name("Function")
                .value(format!("shop-prod-{function}"))
                .build(),
        )
        .timestamp(aws_smithy_types::DateTime::from_secs(at.timestamp()))
        .unit(StandardUnit::Count)
        .value(value);
    if let Some((k, v)) = by {
        d = d.dimensions(Dimension::builder().name(k).value(v).build());
    }
    d.build()
}

#[tokio::test]
async fn the_functions_metrics_read_back_make_the_weeks_message() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "prod", "web").await;
    let cw = aws_sdk_cloudwatch::Client::new(&stack.sdk);
    let data = vec![
        datum("deployer", "DeploymentsCompleted", None, 2, 4.0),
        datum("deployer", "DeploymentsCompleted", None, 9, 2.0),
        datum("deployer", "DeploymentsRolledBack", None, 3, 1.0),
        datum("task-watcher", "StoppedTasks", None, 1, 7.0),
        datum(
            "task-watcher",
            "StoppedTasks",
            Some(("Cause", "out-of-memory")),
            1,
            5.0,
        ),
        datum(
            "task-watcher",
            "StoppedTasks",
            Some(("Cause", "image-pull")),
            1,
            2.0,
        ),
        datum("alarm-notifier", "AlarmsPublished", None, 4, 3.0),
        datum(
            "alarm-notifier",
            "AlarmsPublished",
            Some(("Severity", "critical")),
            4,
            3.0,
        ),
        datum("off-hours", "ServicesAsleep", None, 5, 40.0),
        datum(
            "off-hours",
            "ServicesAsleep",
            Some(("Service", "prod/web")),
            5,
            40.0,
        ),
        datum("off-hours", "EstimatedSavingsUSD", None, 5, 6.5),
        datum(
            "off-hours",
            "EstimatedSavingsUSD",
            Some(("Service", "prod/web")),
            5,
            6.5,
        ),
    ];
    cw.put_metric_data()
        .namespace("FargateAutopilot")
        .set_metric_data(Some(data))
        .send()
        .await
        .expect("PutMetricData");
    let (clients, _) = stack.clients();
    let weekly = WeeklyAccount::new(
        clients,
        WeeklyConfig {
            topic_arn: stack.topic_arn.clone(),
            install: "shop-prod".into(),
            dry_run: false,
        },
    );
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let report = weekly
        .handle(
            json!({"version": "0", "id": "w", "detail-type": "Scheduled Event",
            "source": "aws.scheduler", "account": "123456789012", "time": now,
            "region": "us-east-1", "resources": [], "detail": {}}),
        )
        .await
        .expect("the week's account");
    assert_eq!(report["thisWeek"]["completed"], 4.0, "{report}");
    assert_eq!(report["lastWeek"]["completed"], 2.0, "{report}");
    let told = stack.notifications().await;
    let text = told
        .iter()
        .map(|n| n.to_string())
        .find(|t| t.contains("weekly-account"))
        .unwrap_or_else(|| panic!("no weekly message: {told:?}"));
    for part in [
        "4 completed, 0 failed, 1 rolled back (+2 on last week)",
        "out-of-memory 5, image-pull 2",
        "3 sent to chat (critical 3)",
        "10 service-hours, about $6.50 of Fargate saved",
        "prod/web $6.50",
    ] {
        assert!(text.contains(part), "{part} not in {text}");
    }
}
