//! Pauses over the in-memory fake: the announcement with how to answer, the reminder scheduled
//! once and said only while the pause waits, what became of it, and what is not a pause.

use chrono::{Duration, TimeZone, Utc};
use serde_json::{json, Value};

use super::pause::*;
use super::*;
use crate::model::deployment::{HookBrief, ServiceDeploymentBrief};
use crate::runtime::Handler;
use crate::testing::FakeAws;

const SAMPLE: &str = include_str!("../../../events/deployer/ecs-hook-awaiting-action.json");
const DEPLOYMENT: &str =
    "arn:aws:ecs:us-east-1:123456789012:service-deployment/autopilot-demo/web/Fj3eXbBpqQxYyHEkOsFRy";
const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/autopilot-demo/web";
const HOOK: &str = "ecs-pause-a1b2c3d4e5f6";
const QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:autopilot-demo-autopilot-deployer.fifo";

/// A pause that waits, timing out in `hours` from now with `action`.
fn waiting(hours: i64, action: &str) -> (Deployer<FakeAws>, Value) {
    let expires = Utc::now() + Duration::hours(hours);
    let aws = FakeAws::default();
    aws.with(|s| {
        s.service_deployments.insert(
            DEPLOYMENT.into(),
            ServiceDeploymentBrief {
                status: "IN_PROGRESS".into(),
                target_revision: Some("arn:aws:ecs:us-east-1:123456789012:service-revision/autopilot-demo/web/7230263549221235555".into()),
                hooks: vec![HookBrief {
                    hook_id: HOOK.into(),
                    target_type: "PAUSE".into(),
                    status: "AWAITING_ACTION".into(),
                    expires_at: Some(expires),
                    timeout_action: Some(action.into()),
                }],
                ..ServiceDeploymentBrief::default()
            },
        );
    });
    let deployer = Deployer::new(
        aws,
        DeployerConfig {
            targets: vec![],
            fleet: true,
            topic_arn: "arn:aws:sns:us-east-1:123456789012:chat".into(),
            dry_run: false,
            keep_revisions: None,
            reminders: Some(Reminders {
                role_arn: "arn:aws:iam::123456789012:role/pause-reminders".into(),
                queue_arn: QUEUE.into(),
                prefix: "autopilot-demo-pause-".into(),
                lead_minutes: 60,
            }),
        },
    );
    let mut event: Value = serde_json::from_str(SAMPLE).unwrap();
    event["detail"]["expiresAt"] = json!(expires);
    event["detail"]["updatedAt"] = json!(Utc::now() - Duration::minutes(1));
    (deployer, event)
}

fn set_hook_status(d: &Deployer<FakeAws>, status: &str) {
    d.clients.with(|s| {
        s.service_deployments
            .get_mut(DEPLOYMENT)
            .expect("the deployment")
            .hooks[0]
            .status = status.into()
    });
}

#[test]
fn a_reminder_comes_an_hour_before_the_timeout_or_half_way_for_a_short_pause() {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
    let at = |minutes| now + Duration::minutes(minutes);
    assert_eq!(remind_at(now, at(240), 60), Some(at(180)));
    assert_eq!(remind_at(now, at(120), 60), Some(at(60)));
    assert_eq!(remind_at(now, at(90), 60), Some(at(45)), "half-way");
    assert_eq!(remind_at(now, at(9), 60), None, "too soon to remind");
}

#[test]
fn a_schedule_name_is_scheduler_safe_and_the_same_for_the_same_hook() {
    let prefix = format!("{}-{}-pause-", "p".repeat(24), "e".repeat(16));
    let name = schedule_name(&prefix, "ecs-pause/with:odd chars");
    assert_eq!(name.len(), 64);
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
        "{name}"
    );
    assert_eq!(name, schedule_name(&prefix, "ecs-pause/with:odd chars"));
    assert_ne!(name, schedule_name(&prefix, "another"));
}

#[tokio::test]
async fn a_waiting_pause_is_announced_with_how_to_answer_it_and_a_reminder_is_scheduled() {
    let (d, event) = waiting(4, "ROLLBACK");
    let report = d.handle(event).await.unwrap();
    assert_eq!(report["pause"]["notified"], true, "{report}");
    let n = &d.clients.published()[0];
    assert_eq!(n.thread_id, SERVICE_ARN, "the deploy's thread");
    assert!(
        n.title
            .contains("waits for approval (after the test traffic shift)"),
        "{}",
        n.title
    );
    assert!(
        n.description.contains("then ECS rolls the deployment back"),
        "{}",
        n.description
    );
    assert!(
        n.description.contains("(in 3 h 59 min)") || n.description.contains("(in 4 h)"),
        "{}",
        n.description
    );
    let steps = n.next_steps.join("\n");
    for part in [
        "aws ecs continue-service-deployment --region us-east-1",
        &format!("--service-deployment-arn {DEPLOYMENT} --hook-id {HOOK} --action CONTINUE"),
        "--action ROLLBACK",
    ] {
        assert!(steps.contains(part), "{part} not in {steps}");
    }
    assert_eq!(n.additional_context["hookId"], HOOK);
    assert_eq!(n.additional_context["serviceDeploymentArn"], DEPLOYMENT);
    assert_eq!(n.additional_context["actionGroup"], ACTION_GROUP);

    let schedules = d.clients.with(|s| s.schedules.clone());
    assert_eq!(schedules.len(), 1);
    let s = &schedules[0];
    assert!(s.name.starts_with("autopilot-demo-pause-"));
    assert_eq!(
        (s.queue_arn.as_str(), s.message_group.as_str()),
        (QUEUE, "deployer")
    );
    let expires: chrono::DateTime<Utc> =
        serde_json::from_value(report["pause"]["reminderAt"].clone()).unwrap();
    assert_eq!(s.at, expires);
    // What the schedule will queue is an event the deployer takes.
    let reminder = parse(serde_json::from_str(&s.input).unwrap()).unwrap();
    assert!(
        matches!(reminder, DeployerEvent::Reminder(_)),
        "{reminder:?}"
    );
    assert_eq!(
        d.clients.calls.snapshot(),
        [
            "ECS.DescribeServiceDeployments",
            "Scheduler.CreateSchedule",
            "SNS.Publish"
        ]
    );
}

#[tokio::test]
async fn a_pause_that_continues_on_timeout_says_so() {
    let (d, event) = waiting(4, "CONTINUE");
    d.handle(event).await.unwrap();
    assert!(d.clients.published()[0]
        .description
        .contains("then ECS continues the deployment"));
}

#[tokio::test]
async fn a_redelivered_announcement_schedules_no_second_reminder() {
    let (d, event) = waiting(4, "ROLLBACK");
    d.handle(event.clone()).await.unwrap();
    d.handle(event).await.unwrap();
    assert_eq!(d.clients.with(|s| s.schedules.len()), 1);
    let ids: Vec<String> = d.clients.published().iter().map(|n| n.id.clone()).collect();
    assert_eq!(ids[0], ids[1], "the same message id, for chat's dedupe");
}

#[tokio::test]
async fn the_reminder_is_said_only_while_the_pause_still_waits() {
    let (d, event) = waiting(4, "ROLLBACK");
    d.handle(event).await.unwrap();
    let input = d.clients.with(|s| s.schedules[0].input.clone());
    let reminder: Value = serde_json::from_str(&input).unwrap();
    let report = d.handle(reminder.clone()).await.unwrap();
    assert_eq!(report["pause"]["notified"], true);
    let n = d.clients.published().pop().unwrap();
    assert!(
        n.title
            .starts_with("Reminder: the release of web still waits"),
        "{}",
        n.title
    );
    assert!(n.next_steps[0].contains("--action CONTINUE"));

    set_hook_status(&d, "SUCCEEDED");
    let before = d.clients.published().len();
    let report = d.handle(reminder).await.unwrap();
    assert_eq!(report["pause"]["notified"], false);
    assert_eq!(
        d.clients.published().len(),
        before,
        "an answered pause is not reminded of"
    );
}

#[tokio::test]
async fn a_pause_answered_before_its_event_arrives_is_not_announced() {
    let (d, event) = waiting(4, "ROLLBACK");
    set_hook_status(&d, "FAILED");
    let report = d.handle(event).await.unwrap();
    assert_eq!(report["pause"]["notified"], false);
    assert!(d.clients.published().is_empty());
    assert!(d.clients.with(|s| s.schedules.is_empty()));
}

#[tokio::test]
async fn what_became_of_a_pause_closes_it_in_the_thread() {
    for (name, words) in [
        ("HOOK_SUCCEEDED", "was approved"),
        ("HOOK_FAILED", "was refused: the deployment rolls back"),
        ("HOOK_TIMED_OUT", "timed out with nobody answering"),
    ] {
        let (d, mut event) = waiting(4, "ROLLBACK");
        event["detail"]["eventName"] = json!(name);
        d.handle(event).await.unwrap();
        let n = &d.clients.published()[0];
        assert!(n.title.contains(words), "{name}: {}", n.title);
        assert_eq!(n.thread_id, SERVICE_ARN);
        assert!(
            d.clients
                .calls
                .snapshot()
                .iter()
                .all(|c| c == "SNS.Publish"),
            "no read"
        );
    }
}

#[tokio::test]
async fn a_lambda_hooks_events_are_left_to_the_gate() {
    let (d, mut event) = waiting(4, "ROLLBACK");
    event["detail"]["hookType"] = json!("AWS_LAMBDA");
    let report = d.handle(event).await.unwrap();
    assert_eq!(report["pause"]["notified"], false);
    assert!(d.clients.calls.snapshot().is_empty());
}

#[tokio::test]
async fn in_a_dry_run_the_pause_is_announced_and_no_reminder_is_scheduled() {
    let (mut d, event) = waiting(4, "ROLLBACK");
    d.config.dry_run = true;
    d.handle(event).await.unwrap();
    assert!(d.clients.with(|s| s.schedules.is_empty()));
    assert!(d.clients.published()[0].title.contains("[dry run]"));
}

#[test]
fn a_reminder_that_is_not_the_deployers_own_is_refused_naming_what_is_wrong() {
    let mut reminder = json!({
        "version": "0", "id": "x", "detail-type": "Pause Reminder", "source": "autopilot",
        "account": "123456789012", "time": "2026-03-05T18:54:41Z", "region": "us-east-1",
        "resources": [], "detail": {"serviceArn": SERVICE_ARN, "serviceDeploymentArn": DEPLOYMENT,
        "hookId": "", "expiresAt": "2026-03-05T19:54:41Z"}
    });
    let e = parse(reminder.clone()).unwrap_err().to_string();
    assert!(e.contains("detail.hookId"), "{e}");
    reminder["source"] = json!("someone.else");
    reminder["detail"]["hookId"] = json!(HOOK);
    let e = parse(reminder).unwrap_err().to_string();
    assert!(e.contains("Pause Reminder"), "{e}");
}
