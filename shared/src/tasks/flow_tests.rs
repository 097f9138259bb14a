//! The task-watcher's whole flow over in-memory AWS (`testing::FakeAws`): parse, read, plan,
//! apply, notify, in milliseconds. The emulator tests cover the adapters and the same paths
//! over the wire.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::runtime::Handler;
use crate::tags;
use crate::tasks::fake::config;
use crate::testing::FakeAws;

/// AWS with service `web` of cluster `autopilot-demo` at 2 tasks, auto scaling 2..10.
fn aws(service_tags: &[(&str, &str)]) -> FakeAws {
    let aws = FakeAws::default();
    aws.with(|s| {
        let td = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3";
        s.service("autopilot-demo", "web", 2, td, service_tags)
            .running = 2;
        s.scalable("autopilot-demo", "web", 2, 10);
    });
    aws
}

fn sample(name: &str) -> Value {
    let text = match name {
        "elb-health-check" => include_str!("../../../events/task-watcher/elb-health-check.json"),
        "scaling" => include_str!("../../../events/task-watcher/scaling.json"),
        "spot-interruption" => include_str!("../../../events/task-watcher/spot-interruption.json"),
        other => panic!("no sample {other}"),
    };
    serde_json::from_str(text).expect("sample JSON")
}

/// The sample's stop as ECS would list it a few minutes earlier, under another task id.
fn earlier_stop(id: &str, minutes: i64) -> EcsTaskStateChange {
    let mut e = sample("elb-health-check");
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-16T10:20:30Z").expect("time")
        - chrono::Duration::minutes(minutes);
    e["detail"]["taskArn"] = json!(format!(
        "arn:aws:ecs:us-east-1:123456789012:task/autopilot-demo/{id}"
    ));
    e["detail"]["stoppedAt"] = json!(at.to_rfc3339());
    parse(e).expect("parsed").detail
}

fn crash_looping(aws: &FakeAws) {
    aws.with(|s| {
        s.stops.insert(
            "web".into(),
            vec![earlier_stop("a1", 2), earlier_stop("a2", 6)],
        );
    });
}

#[tokio::test]
async fn a_crash_loop_is_remembered_scaled_to_zero_and_alerted_once() {
    let aws = aws(&[]);
    crash_looping(&aws);
    let watcher = TaskWatcher::new(aws, config(CrashLoopAction::ScaleToZero));
    let result = watcher
        .handle(sample("elb-health-check"))
        .await
        .expect("handled");
    assert_eq!(
        result["actions"],
        json!(["crash-loop", "scale-to-zero"]),
        "{result}"
    );

    let aws = &watcher.clients;
    let web = aws.service("web").expect("web");
    assert_eq!(web.desired, 0);
    assert_eq!(aws.with(|s| s.bounds["service/autopilot-demo/web"]), (0, 0));
    assert_eq!(
        web.tags.get(tags::RESTORE).map(String::as_str),
        Some("desired=2 min=2 max=10")
    );
    assert_eq!(
        web.tags
            .get(tags::CRASH_LOOP_ALERTED_AT)
            .map(String::as_str),
        Some("2026-11-16T10:20:30Z")
    );
    // The result lists what was tagged, in one TagResource: the alert and the capacity are
    // remembered together or not at all.
    assert_eq!(result["tagged"], json!(web.tags), "{result}");
    let calls = aws.calls.snapshot();
    assert_eq!(calls.iter().filter(|c| *c == "ECS.TagResource").count(), 1);
    let published = aws.published();
    assert_eq!(published.len(), 1);
    assert!(
        published[0].title.contains("Crash loop"),
        "{}",
        published[0].title
    );
    // The alert is remembered, and the capacity recorded, before anything is scaled.
    let calls = aws.calls.snapshot();
    let first = |c: &str| calls.iter().position(|x| x == c).unwrap_or(usize::MAX);
    assert!(
        first("ECS.TagResource") < first("Application Auto Scaling.RegisterScalableTarget"),
        "{calls:?}"
    );
    assert!(
        first("Application Auto Scaling.RegisterScalableTarget") < first("ECS.UpdateService"),
        "{calls:?}"
    );
}

#[tokio::test]
async fn inside_the_quiet_window_a_loop_stays_quiet_without_reading_the_stops() {
    let aws = aws(&[(tags::CRASH_LOOP_ALERTED_AT, "2026-11-16T10:10:00Z")]);
    crash_looping(&aws);
    let watcher = TaskWatcher::new(aws, config(CrashLoopAction::ScaleToZero));
    let result = watcher
        .handle(sample("elb-health-check"))
        .await
        .expect("handled");
    assert_eq!(result["actions"], json!(["ignore"]), "{result}");
    assert!(watcher.clients.published().is_empty());
    assert_eq!(watcher.clients.calls.snapshot(), ["ECS.DescribeServices"]);
    assert_eq!(watcher.clients.service("web").map(|s| s.desired), Some(2));
}

#[tokio::test]
async fn below_the_threshold_the_stop_is_alerted_alone() {
    let aws = aws(&[]);
    let watcher = TaskWatcher::new(aws, config(CrashLoopAction::ScaleToZero));
    let result = watcher
        .handle(sample("elb-health-check"))
        .await
        .expect("handled");
    assert_eq!(result["actions"], json!(["alert"]), "{result}");
    assert_eq!(watcher.clients.published().len(), 1);
    assert_eq!(watcher.clients.service("web").map(|s| s.desired), Some(2));
}

#[tokio::test]
async fn a_dry_run_says_what_it_would_do_and_changes_nothing() {
    let aws = aws(&[]);
    crash_looping(&aws);
    let mut cfg = config(CrashLoopAction::ScaleToZero);
    cfg.dry_run = true;
    let watcher = TaskWatcher::new(aws, cfg);
    let result = watcher
        .handle(sample("elb-health-check"))
        .await
        .expect("handled");
    assert_eq!(
        result["actions"],
        json!(["crash-loop", "scale-to-zero"]),
        "{result}"
    );
    let calls = watcher.clients.calls.snapshot();
    assert!(
        !calls
            .iter()
            .any(|c| c == "ECS.TagResource" || c == "ECS.UpdateService"),
        "{calls:?}"
    );
    let published = watcher.clients.published();
    assert!(
        published[0].title.ends_with("[dry run]"),
        "{}",
        published[0].title
    );
    // The result says what would have been tagged.
    assert_eq!(
        result["tagged"],
        json!({
            "autopilot:crash-loop-alerted-at": "2026-11-16T10:20:30Z",
            "autopilot:crash-loop-stopped-at": "2026-11-16T10:20:30Z",
            "autopilot:crash-loop-task": "03a1b2c3d4e5f60718293a4b5c6d7e8f",
            "autopilot:restore": "desired=2 min=2 max=10",
        }),
        "{result}"
    );

    // The loop goes on: the next stop, two minutes later, finds this one listed and stays
    // quiet, as the real run would inside its window.
    let mut next = sample("elb-health-check");
    next["detail"]["taskArn"] = json!("arn:aws:ecs:us-east-1:123456789012:task/autopilot-demo/b1");
    next["time"] = json!("2026-11-16T10:22:30Z");
    next["detail"]["stoppedAt"] = json!("2026-11-16T10:22:30Z");
    watcher.clients.with(|s| {
        let first = parse(sample("elb-health-check")).expect("parsed").detail;
        s.stops.entry("web".into()).or_default().insert(0, first);
    });
    let quiet = watcher.handle(next).await.expect("handled");
    assert_eq!(quiet["actions"], json!(["ignore"]), "{quiet}");
    assert!(
        quiet["detail"]
            .as_str()
            .is_some_and(|d| d.contains("alerted at 2026-11-16T10:20:30")
                && d.contains("nothing was tagged")),
        "{quiet}"
    );
    assert_eq!(watcher.clients.published().len(), 1, "said once");
}

#[tokio::test]
async fn an_opted_in_interrupted_task_runs_again_once_per_stop() {
    let aws = aws(&[]);
    let event = sample("spot-interruption");
    let task = event["detail"]["taskArn"]
        .as_str()
        .expect("task")
        .to_string();
    aws.with(|s| {
        s.task_tags.insert(
            task.clone(),
            BTreeMap::from([(tags::RESTART.to_string(), "on-interruption".to_string())]),
        );
    });
    let watcher = TaskWatcher::new(aws, config(CrashLoopAction::Alert));
    let first = watcher.handle(event.clone()).await.expect("handled");
    assert_eq!(first["actions"], json!(["restart", "alert"]), "{first}");
    let again = watcher.handle(event).await.expect("handled twice");
    assert_eq!(again["actions"], json!(["restart", "alert"]), "{again}");
    // The client token comes from the stopped task: the duplicate starts no second task.
    assert_eq!(watcher.clients.with(|s| s.runs.len()), 1);
}

#[tokio::test]
async fn a_benign_stop_costs_no_call() {
    let watcher = TaskWatcher::new(aws(&[]), config(CrashLoopAction::ScaleToZero));
    let result = watcher.handle(sample("scaling")).await.expect("handled");
    assert_eq!(result["actions"], json!(["ignore"]), "{result}");
    assert!(watcher.clients.calls.snapshot().is_empty());
}

#[tokio::test]
async fn the_spot_warning_is_explained_while_the_task_still_runs_under_either_stop_code() {
    // Fargate Spot's two-minute warning is a task state change with the task still RUNNING,
    // desiredStatus STOPPED, and stopCode SpotInterruption (AWS's knowledge-center article on
    // Fargate Spot termination notices) or TerminationNotice: the template's rule takes both.
    for code in ["SpotInterruption", "TerminationNotice"] {
        let mut warning = sample("spot-interruption");
        warning["detail"]["lastStatus"] = json!("RUNNING");
        warning["detail"]["desiredStatus"] = json!("STOPPED");
        warning["detail"]["stopCode"] = json!(code);
        let watcher = TaskWatcher::new(aws(&[]), config(CrashLoopAction::Alert));
        let result = watcher.handle(warning).await.expect("handled");
        assert_eq!(result["cause"], "spot-interruption", "{code}: {result}");
        assert_ne!(result["actions"], json!(["ignore"]), "{code}: {result}");
    }
}

#[tokio::test]
async fn the_task_watchers_messages_read_as_their_snapshots() {
    let aws = aws(&[]);
    crash_looping(&aws);
    let watcher = TaskWatcher::new(aws, config(CrashLoopAction::ScaleToZero));
    watcher
        .handle(sample("elb-health-check"))
        .await
        .expect("crash loop");
    let event = sample("spot-interruption");
    let task = event["detail"]["taskArn"]
        .as_str()
        .expect("task")
        .to_string();
    watcher.clients.with(|s| {
        s.task_tags.insert(
            task,
            BTreeMap::from([(tags::RESTART.to_string(), "on-interruption".to_string())]),
        );
    });
    watcher.handle(event).await.expect("restart");
    let published = watcher.clients.published();
    assert_eq!(published.len(), 2);
    for (name, n) in ["crash-loop", "restarted"].iter().zip(&published) {
        insta::assert_snapshot!(format!("tasks-{name}.email"), n.to_text());
    }
}

/// The spot-interruption sample's task, opted in, carrying ECS's managed tags as a task launched
/// with managed tags does.
fn opted_in_with_managed_tags(aws: &FakeAws) -> Value {
    let event = sample("spot-interruption");
    let task = event["detail"]["taskArn"]
        .as_str()
        .expect("task")
        .to_string();
    aws.with(|s| {
        s.task_tags.insert(
            task,
            BTreeMap::from([
                (tags::RESTART.to_string(), "on-interruption".to_string()),
                (
                    "aws:ecs:clusterName".to_string(),
                    "autopilot-demo".to_string(),
                ),
                ("team".to_string(), "data".to_string()),
            ]),
        );
    });
    event
}

#[tokio::test]
async fn a_restart_carries_the_tasks_tags_but_not_those_aws_reserves() {
    let aws = aws(&[]);
    let event = opted_in_with_managed_tags(&aws);
    let watcher = TaskWatcher::new(aws, config(CrashLoopAction::Alert));
    watcher.handle(event).await.expect("handled");
    let asked = watcher.clients.with(|s| s.run_tags.clone());
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0].keys().map(String::as_str).collect::<Vec<_>>(),
        ["autopilot:attempt", "autopilot:restart", "team"]
    );
}

#[tokio::test]
async fn a_failed_restart_is_alerted_with_why_and_never_hides_the_stop() {
    let aws = aws(&[]);
    let event = opted_in_with_managed_tags(&aws);
    aws.with(|s| s.run_fails_with = Some("InvalidParameterException"));
    let watcher = TaskWatcher::new(aws, config(CrashLoopAction::Alert));
    let result = watcher
        .handle(event.clone())
        .await
        .expect("alerted, not failed");
    assert_eq!(result["actions"], json!(["alert"]), "{result}");
    let alert = &watcher.clients.published()[0];
    assert!(
        alert.description.contains("The restart failed"),
        "{}",
        alert.description
    );
    assert!(
        alert.description.contains("InvalidParameterException"),
        "{}",
        alert.description
    );

    // Throttled: the stop is alerted, and the invocation fails retryable so Lambda tries again.
    watcher
        .clients
        .with(|s| s.run_fails_with = Some("ThrottlingException"));
    let e = watcher.handle(event).await.expect_err("retryable");
    assert!(e.is_retryable(), "{e}");
    assert_eq!(
        watcher.clients.published().len(),
        2,
        "the stop was alerted all the same"
    );
}

#[tokio::test]
async fn the_task_definitions_opt_in_restarts_a_task_whose_tags_are_gone() {
    // The stopped task reports no tags; its task definition carries the opt-in.
    let aws = aws(&[]);
    let event = sample("spot-interruption");
    let td = event["detail"]["taskDefinitionArn"]
        .as_str()
        .expect("task definition")
        .to_string();
    aws.with(|s| {
        s.definition_tags.insert(
            td,
            BTreeMap::from([(tags::RESTART.to_string(), "on-interruption".to_string())]),
        );
    });
    let watcher = TaskWatcher::new(aws, config(CrashLoopAction::Alert));
    let result = watcher.handle(event.clone()).await.expect("handled");
    assert_eq!(result["actions"], json!(["restart", "alert"]), "{result}");
    assert_eq!(
        watcher.clients.with(|s| s.run_started_by.clone()),
        ["autopilot-task-watcher/1"],
        "the attempt is in startedBy, which the next stop's event reports whatever its tags"
    );

    // The restarted task stops too, its tags gone: its startedBy still counts it.
    let mut second = event.clone();
    second["detail"]["taskArn"] = json!(format!(
        "{}-again",
        event["detail"]["taskArn"].as_str().expect("task")
    ));
    second["detail"]["startedBy"] = json!("autopilot-task-watcher/3");
    let result = watcher.handle(second).await.expect("handled");
    assert_eq!(result["actions"], json!(["alert"]), "{result}");
    assert!(
        result["detail"]
            .as_str()
            .is_some_and(|d| d.contains("MAX_RESTARTS = 3")),
        "{result}"
    );
    // The second stop did not read the revision again: its tags and log configuration are
    // remembered for the life of the process.
    assert!(
        !watcher
            .clients
            .calls
            .snapshot()
            .contains(&"ECS.DescribeTaskDefinition".to_string()),
        "{:?}",
        watcher.clients.calls.snapshot()
    );
}

#[tokio::test]
async fn a_short_arn_service_in_a_crash_loop_is_told_to_migrate_and_never_tagged_or_scaled() {
    let aws = aws(&[]);
    crash_looping(&aws);
    aws.with(|s| s.services[0].arn = "arn:aws:ecs:us-east-1:123456789012:service/web".into());
    let watcher = TaskWatcher::new(aws, config(CrashLoopAction::ScaleToZero));
    let result = watcher
        .handle(sample("elb-health-check"))
        .await
        .expect("handled, not an AWS error");
    assert_eq!(result["actions"], json!(["crash-loop"]), "{result}");
    let calls = watcher.clients.calls.snapshot();
    assert!(
        !calls
            .iter()
            .any(|c| c == "ECS.TagResource" || c == "ECS.UpdateService"),
        "{calls:?}"
    );
    assert_eq!(watcher.clients.service("web").map(|s| s.desired), Some(2));
    let alert = &watcher.clients.published()[0];
    assert!(
        alert
            .next_steps
            .iter()
            .any(|s| s.contains("Migrate the service to the long ARN format")),
        "{:?}",
        alert.next_steps
    );

    // The next stop of the loop finds this one listed and stays quiet, as after a tagged alert.
    let mut next = sample("elb-health-check");
    next["detail"]["taskArn"] = json!("arn:aws:ecs:us-east-1:123456789012:task/autopilot-demo/b2");
    next["time"] = json!("2026-11-16T10:22:30Z");
    watcher.clients.with(|s| {
        let first = parse(sample("elb-health-check")).expect("parsed").detail;
        s.stops.entry("web".into()).or_default().insert(0, first);
    });
    let quiet = watcher.handle(next).await.expect("handled");
    assert_eq!(quiet["actions"], json!(["ignore"]), "{quiet}");
    assert_eq!(watcher.clients.published().len(), 1);
}

#[tokio::test]
async fn a_service_tagged_watch_off_is_left_alone_even_in_a_crash_loop() {
    let aws = aws(&[(tags::WATCH, "off")]);
    crash_looping(&aws);
    let watcher = TaskWatcher::new(aws, config(CrashLoopAction::ScaleToZero));
    let result = watcher
        .handle(sample("elb-health-check"))
        .await
        .expect("handled");
    assert_eq!(result["actions"], json!(["ignore"]), "{result}");
    assert!(
        result["detail"]
            .as_str()
            .is_some_and(|d| d.contains("autopilot:watch=off")),
        "{result}"
    );
    assert!(watcher.clients.published().is_empty());
    assert_eq!(watcher.clients.calls.snapshot(), ["ECS.DescribeServices"]);
    assert_eq!(watcher.clients.service("web").map(|s| s.desired), Some(2));
}

#[tokio::test]
async fn a_services_severity_tag_sets_its_alerts_severity() {
    for (tag, severity) in [
        ("warning", "warning"),
        ("Info", "info"),
        ("loud", "critical"),
    ] {
        let watcher = TaskWatcher::new(
            aws(&[(tags::SEVERITY, tag)]),
            config(CrashLoopAction::Alert),
        );
        let result = watcher
            .handle(sample("elb-health-check"))
            .await
            .expect("handled");
        // An unknown value keeps the cause's own severity (a failed health check: critical).
        assert_eq!(result["severity"], severity, "{tag}: {result}");
        let published = watcher.clients.published();
        // A value it cannot use is also said (once): the stop's alert comes last.
        assert_eq!(published.len(), 1 + usize::from(tag == "loud"), "{tag}");
        let alert = published.last().expect("the alert");
        assert_eq!(alert.severity.as_str(), severity, "{tag}");
    }
}

#[tokio::test]
async fn a_bad_watch_or_severity_value_is_reported_once_and_the_stop_is_still_explained() {
    let watcher = TaskWatcher::new(
        aws(&[(tags::SEVERITY, "loud")]),
        config(CrashLoopAction::Alert),
    );
    let first = watcher
        .handle(sample("elb-health-check"))
        .await
        .expect("handled");
    assert_eq!(first["tagProblems"][0]["tag"], tags::SEVERITY, "{first}");
    assert_eq!(first["actions"], json!(["alert"]), "{first}");
    let titles: Vec<String> = watcher
        .clients
        .published()
        .iter()
        .map(|n| n.title.clone())
        .collect();
    assert_eq!(titles.len(), 2, "the tag and the stop: {titles:?}");
    assert!(titles[0].contains("autopilot:severity"), "{titles:?}");
    assert_eq!(
        watcher
            .clients
            .service("web")
            .and_then(|s| s.tags.get(tags::SEVERITY_TAG_PROBLEM).cloned())
            .as_deref(),
        Some("autopilot:severity=loud")
    );

    // The next stop: explained again, the tag not said again.
    let mut again = sample("elb-health-check");
    again["detail"]["taskArn"] = json!(
        "arn:aws:ecs:us-east-1:123456789012:task/autopilot-demo/0aa1b2c3d4e5f60718293a4b5c6d7e8f"
    );
    let second = watcher.handle(again).await.expect("handled");
    assert_eq!(second["tagProblems"][0]["reported"], true, "{second}");
    assert_eq!(watcher.clients.published().len(), 3);
}

#[tokio::test]
async fn with_both_the_watch_and_severity_tags_wrong_three_stops_announce_each_once() {
    let watcher = TaskWatcher::new(
        aws(&[(tags::WATCH, "no"), (tags::SEVERITY, "loud")]),
        config(CrashLoopAction::Alert),
    );
    for id in ["c1", "c2", "c3"] {
        let mut stop = sample("elb-health-check");
        stop["detail"]["taskArn"] = json!(format!(
            "arn:aws:ecs:us-east-1:123456789012:task/autopilot-demo/{id}"
        ));
        let result = watcher.handle(stop).await.expect("handled");
        assert_eq!(result["actions"], json!(["alert"]), "{id}: {result}");
    }
    let titles: Vec<String> = watcher
        .clients
        .published()
        .iter()
        .map(|n| n.title.clone())
        .collect();
    let about = |tag: &str| titles.iter().filter(|t| t.contains(tag)).count();
    assert_eq!(about("its tag autopilot:watch "), 1, "{titles:?}");
    assert_eq!(about("its tag autopilot:severity "), 1, "{titles:?}");
    assert_eq!(
        titles.len(),
        2 + 3,
        "two tag notices and three alerts: {titles:?}"
    );
    let remembered = watcher
        .clients
        .service("web")
        .map(|s| s.tags)
        .unwrap_or_default();
    assert_eq!(
        remembered.get(tags::WATCH_TAG_PROBLEM).map(String::as_str),
        Some("autopilot:watch=no")
    );
    assert_eq!(
        remembered
            .get(tags::SEVERITY_TAG_PROBLEM)
            .map(String::as_str),
        Some("autopilot:severity=loud")
    );
}
