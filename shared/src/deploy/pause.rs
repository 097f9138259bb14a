//! Pause hooks: a gated deployment waiting for a person (`ECS Hook State Change`,
//! `HOOK_AWAITING_ACTION`) becomes a message in the deploy's thread: what waits, since when,
//! when it times out and what ECS then does, and exactly how to continue or roll back. A
//! reminder is scheduled (EventBridge Scheduler, one shot, deleted once run) before the
//! timeout; when it comes, it is said only if the pause still waits. What became of the pause
//! (continued, rolled back, timed out) closes it in the thread.
//!
//! Shapes: the ECS developer guide's "Pause hooks for Amazon ECS service deployments" and
//! "Amazon ECS service deployment hook state change events"; `ContinueServiceDeployment` and
//! `DescribeServiceDeployments` in the API reference.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ports::DeployPorts;
use super::Deployer;
use crate::aws::scheduler::OneShot;
use crate::error::{Error, Result};
use crate::events::{Event, HookEventName, HookStateChange, LifecycleStage};
use crate::model::arn::{ecs_service_url, Arn};
use crate::model::deployment::{HookBrief, ServiceDeploymentBrief};
use crate::notify::{Notification, Severity};

/// The detail type of ECS's hook events.
pub const ECS_HOOK_STATE_CHANGE: &str = "ECS Hook State Change";
/// The source and detail type of the reminder the deployer schedules for itself.
pub const REMINDER_SOURCE: &str = "autopilot";
pub const PAUSE_REMINDER: &str = "Pause Reminder";
/// What a Chatbot custom action matches on (`additionalContext.actionGroup`).
pub const ACTION_GROUP: &str = "autopilot-pause";
/// No reminder for a pause that times out sooner than this.
const NO_REMINDER_UNDER: i64 = 10;

/// Where the reminders go: the deployer's own queue, with the role Scheduler sends with.
#[derive(Clone, Debug, PartialEq)]
pub struct Reminders {
    pub role_arn: String,
    pub queue_arn: String,
    /// The schedules' names begin with this (the role may create only those).
    pub prefix: String,
    /// Minutes before the timeout the reminder comes.
    pub lead_minutes: u32,
}

/// The reminder's detail: what it reminds of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseReminder {
    pub service_arn: String,
    pub service_deployment_arn: String,
    pub hook_id: String,
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub lifecycle_stage: Option<LifecycleStage>,
}

/// What an invocation about a pause returns.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseReport {
    pub service_deployment_arn: String,
    pub hook_id: String,
    /// `HOOK_AWAITING_ACTION`..., or `reminder`.
    pub event: String,
    pub notified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// When the reminder was scheduled for (or already was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminder_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
}

/// When to remind: `lead` minutes before the timeout, or half-way for a pause shorter than
/// twice that; never for one that ends within ten minutes.
pub fn remind_at(
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    lead_minutes: u32,
) -> Option<DateTime<Utc>> {
    let left = expires_at - now;
    if left < Duration::minutes(NO_REMINDER_UNDER) {
        return None;
    }
    let lead = Duration::minutes(i64::from(lead_minutes));
    Some(if left >= lead * 2 {
        expires_at - lead
    } else {
        now + left / 2
    })
}

/// A schedule name for a hook: the prefix and a hash of the hook id (Scheduler names are at
/// most 64 characters of `[0-9a-zA-Z-_.]`; a hook id's own characters are not promised).
pub fn schedule_name(prefix: &str, hook_id: &str) -> String {
    let hash = hook_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{prefix}{hash:016x}")
}

/// The hook a pause event or reminder is about, as the deployment lists it now.
fn hook_in<'a>(d: &'a ServiceDeploymentBrief, hook_id: &str) -> Option<&'a HookBrief> {
    d.hooks.iter().find(|h| h.hook_id == hook_id)
}

fn service_name(arn: &str) -> (String, String) {
    Arn::parse(arn)
        .and_then(|a| a.ecs_service())
        .map(|(c, s)| (c.to_string(), s.to_string()))
        .unwrap_or_else(|| (String::new(), arn.to_string()))
}

fn region(arn: &str) -> String {
    Arn::parse(arn)
        .map(|a| a.region.to_string())
        .unwrap_or_default()
}

fn in_words(d: Duration) -> String {
    let minutes = d.num_minutes().max(0);
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// What ECS does when nobody answers.
fn timeout_words(action: Option<&str>) -> &'static str {
    match action {
        Some("CONTINUE") => "ECS continues the deployment",
        // ROLLBACK is the default timeout action.
        _ => "ECS rolls the deployment back",
    }
}

/// The CLI commands that answer a pause (the API requires the deployment's ARN with the hook).
pub fn answers(service_deployment_arn: &str, hook_id: &str, region: &str) -> [String; 2] {
    ["CONTINUE", "ROLLBACK"].map(|action| {
        format!(
            "aws ecs continue-service-deployment --region {region} --service-deployment-arn {service_deployment_arn} --hook-id {hook_id} --action {action}"
        )
    })
}

/// The message of a pause that waits (`reminder`: the second time it is said).
pub fn waiting_notice(
    ev: &HookStateChange,
    expires_at: Option<DateTime<Utc>>,
    timeout_action: Option<&str>,
    target_revision: Option<&str>,
    now: DateTime<Utc>,
    reminder: bool,
) -> Notification {
    let (cluster, service) = service_name(&ev.service_arn);
    let region = region(&ev.service_arn);
    let stage = ev
        .lifecycle_stage
        .as_ref()
        .map(|s| s.words())
        .unwrap_or_else(|| "at a pause".into());
    let title = if reminder {
        format!("Reminder: the release of {service} still waits for approval ({stage})")
    } else {
        format!("Release of {service} waits for approval ({stage})")
    };
    let mut lines = vec![];
    if let Some(since) = ev.updated_at {
        lines.push(format!(
            "Paused since {} UTC.",
            since.format("%Y-%m-%d %H:%M")
        ));
    }
    match expires_at {
        Some(at) => lines.push(format!(
            "It times out at {} UTC (in {}); then {}.",
            at.format("%Y-%m-%d %H:%M"),
            in_words(at - now),
            timeout_words(timeout_action)
        )),
        None => lines.push(format!(
            "When it times out, {}.",
            timeout_words(timeout_action)
        )),
    }
    if let Some(rev) = target_revision {
        lines.push(format!("New revision: {rev}"));
    }
    let [go, back] = answers(&ev.service_deployment_arn, &ev.hook_id, &region);
    let id = if reminder {
        format!("pause-reminder-{}", ev.hook_id)
    } else {
        format!("pause-{}", ev.hook_id)
    };
    Notification::new(id, Severity::Warning, title, ev.service_arn.clone())
        .describe(lines.join("\n"))
        .event_type(if reminder {
            "pause-reminder"
        } else {
            "pause-waiting"
        })
        .keywords(["deploy".to_string(), "approval".to_string()])
        .next_steps([
            format!("Continue: {go}"),
            format!("Roll back: {back}"),
            format!(
                "Or in the console: {}",
                ecs_service_url(&region, &cluster, &service)
            ),
        ])
        .resources([ev.service_arn.clone(), ev.service_deployment_arn.clone()])
        // The variables a Chatbot custom action (a Continue or Roll back button) reads.
        .facts([
            ("actionGroup".to_string(), ACTION_GROUP.to_string()),
            ("hookId".to_string(), ev.hook_id.clone()),
            (
                "serviceDeploymentArn".to_string(),
                ev.service_deployment_arn.clone(),
            ),
            ("region".to_string(), region),
        ])
}

/// The message of what became of a pause.
fn closed_notice(ev: &HookStateChange) -> Option<Notification> {
    let (_, service) = service_name(&ev.service_arn);
    let (severity, what) = match ev.event_name {
        HookEventName::Succeeded => (Severity::Info, "was approved: the deployment goes on"),
        HookEventName::Failed => (Severity::Warning, "was refused: the deployment rolls back"),
        HookEventName::TimedOut => (
            Severity::Warning,
            "timed out with nobody answering: ECS took the pause's timeout action",
        ),
        _ => return None,
    };
    Some(
        Notification::new(
            format!("pause-{}-{}", ev.hook_id, ev.event_name.as_str()),
            severity,
            format!("The release of {service} {what}"),
            ev.service_arn.clone(),
        )
        .event_type("pause-closed")
        .keywords(["deploy".to_string(), "approval".to_string()])
        .resources([ev.service_deployment_arn.clone()]),
    )
}

impl<P: DeployPorts> Deployer<P> {
    /// A pause hook's state change.
    pub(super) async fn on_hook(&self, ev: Event<HookStateChange>) -> Result<PauseReport> {
        let hook = ev.detail;
        let mut report = PauseReport {
            service_deployment_arn: hook.service_deployment_arn.clone(),
            hook_id: hook.hook_id.clone(),
            event: hook.event_name.as_str().to_string(),
            notified: false,
            reason: None,
            reminder_at: None,
            notification_id: None,
        };
        if hook.hook_type.as_deref() != Some("PAUSE") {
            report.reason = Some("not a pause hook: the deploy-gate tells its own decisions");
            return Ok(report);
        }
        let now = Utc::now();
        let notice = match hook.event_name {
            HookEventName::AwaitingAction => {
                // The deployment says what the event does not: the timeout action, the revision.
                let deployment = self
                    .clients
                    .service_deployment(&hook.service_deployment_arn)
                    .await?;
                let listed = deployment.as_ref().and_then(|d| hook_in(d, &hook.hook_id));
                if listed.is_some_and(|h| h.status != "AWAITING_ACTION") {
                    report.reason = Some("answered already: the pause no longer waits");
                    return Ok(report);
                }
                let expires_at = hook.expires_at.or(listed.and_then(|h| h.expires_at));
                let action = listed.and_then(|h| h.timeout_action.as_deref());
                if let (Some(r), Some(at)) = (&self.config.reminders, expires_at) {
                    report.reminder_at = self.schedule_reminder(r, &hook, at, now).await?;
                }
                waiting_notice(
                    &hook,
                    expires_at,
                    action,
                    deployment
                        .as_ref()
                        .and_then(|d| d.target_revision.as_deref()),
                    now,
                    false,
                )
            }
            _ => match closed_notice(&hook) {
                Some(n) => n,
                None => {
                    report.reason = Some("nothing to say about this hook state");
                    return Ok(report);
                }
            },
        };
        self.tell(notice, report).await
    }

    /// Publishes a pause's message (marked in a dry run) and says so in the report.
    async fn tell(&self, notice: Notification, mut report: PauseReport) -> Result<PauseReport> {
        let notice = notice.dry_run(self.config.dry_run);
        self.clients
            .publish(&self.config.topic_arn, &notice)
            .await?;
        report.notified = true;
        report.notification_id = Some(notice.id);
        Ok(report)
    }

    /// Schedules the reminder (not in a dry run); `None` when the pause ends too soon for one.
    async fn schedule_reminder(
        &self,
        r: &Reminders,
        hook: &HookStateChange,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let Some(at) = remind_at(now, expires_at, r.lead_minutes) else {
            return Ok(None);
        };
        if self.config.dry_run {
            return Ok(Some(at));
        }
        let name = schedule_name(&r.prefix, &hook.hook_id);
        let detail = PauseReminder {
            service_arn: hook.service_arn.clone(),
            service_deployment_arn: hook.service_deployment_arn.clone(),
            hook_id: hook.hook_id.clone(),
            expires_at,
            lifecycle_stage: hook.lifecycle_stage.clone(),
        };
        let input = serde_json::json!({
            "version": "0",
            "id": name,
            "detail-type": PAUSE_REMINDER,
            "source": REMINDER_SOURCE,
            "account": Arn::parse(&hook.service_arn).map(|a| a.account).unwrap_or_default(),
            "time": at,
            "region": region(&hook.service_arn),
            "resources": [hook.service_deployment_arn],
            "detail": detail,
        });
        self.clients
            .schedule_once(&OneShot {
                name,
                at,
                queue_arn: r.queue_arn.clone(),
                message_group: "deployer".into(),
                role_arn: r.role_arn.clone(),
                input: input.to_string(),
                description:
                    "A pause of a gated deployment waits for a person: remind the deploy's thread"
                        .into(),
            })
            .await?;
        Ok(Some(at))
    }

    /// The reminder the deployer scheduled: said only when the pause still waits.
    pub(super) async fn on_reminder(&self, ev: Event<PauseReminder>) -> Result<PauseReport> {
        let r = ev.detail;
        let mut report = PauseReport {
            service_deployment_arn: r.service_deployment_arn.clone(),
            hook_id: r.hook_id.clone(),
            event: "reminder".into(),
            notified: false,
            reason: None,
            reminder_at: None,
            notification_id: None,
        };
        let deployment = self
            .clients
            .service_deployment(&r.service_deployment_arn)
            .await?;
        let Some(listed) = deployment.as_ref().and_then(|d| hook_in(d, &r.hook_id)) else {
            report.reason = Some("the deployment no longer lists the pause");
            return Ok(report);
        };
        if listed.status != "AWAITING_ACTION" {
            report.reason = Some("answered already: the pause no longer waits");
            return Ok(report);
        }
        let as_event = HookStateChange {
            event_type: None,
            event_name: HookEventName::AwaitingAction,
            hook_id: r.hook_id.clone(),
            hook_type: Some("PAUSE".into()),
            expires_at: Some(r.expires_at),
            lifecycle_stage: r.lifecycle_stage.clone(),
            cluster_arn: None,
            service_arn: r.service_arn.clone(),
            service_deployment_arn: r.service_deployment_arn.clone(),
            updated_at: None,
        };
        let notice = waiting_notice(
            &as_event,
            listed.expires_at.or(Some(r.expires_at)),
            listed.timeout_action.as_deref(),
            deployment
                .as_ref()
                .and_then(|d| d.target_revision.as_deref()),
            Utc::now(),
            true,
        );
        self.tell(notice, report).await
    }
}

/// Checks a reminder's detail (it comes from the deployer's own schedule, but through a queue
/// anyone with the right could write to).
pub fn validate_reminder(ev: &Event<PauseReminder>) -> Result<()> {
    let d = &ev.detail;
    for (field, value) in [
        ("detail.serviceArn", &d.service_arn),
        ("detail.serviceDeploymentArn", &d.service_deployment_arn),
        ("detail.hookId", &d.hook_id),
    ] {
        if value.trim().is_empty() {
            return Err(Error::bad_event(format!("{field}: must not be empty")));
        }
    }
    Ok(())
}
