//! The gate's chat messages: a judged stage's pass or failure, in the service's thread (the
//! deployer's thread for the same service), so a release reads as one story.

use super::plan::{Decision, Verdict};
use crate::events::HookInvocation;
use crate::model::arn::Arn;
use crate::notify::{neutralise, Notification, Severity};

/// The step, in words: `step at 20%` for a linear or canary step, nothing otherwise.
fn step(input: &HookInvocation) -> String {
    match input.green_production_weight() {
        Some(w) if w > 0.0 && w < 100.0 => format!(" (step at {w}% of production traffic)"),
        _ => String::new(),
    }
}

/// The service's name, from its ARN.
fn service_name(arn: &str) -> &str {
    Arn::parse(arn)
        .and_then(|a| a.ecs_service())
        .map(|(_, name)| name)
        .unwrap_or(arn)
}

/// The deployment's own id, the last part of its ARN.
fn deployment_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The message of a decision that belongs in chat.
pub fn decision(input: &HookInvocation, d: &Decision, dry_run: bool) -> Notification {
    let service = service_name(&input.service_arn);
    let stage = input.stage.words();
    let weight = input
        .green_production_weight()
        .map(|w| format!("{w}"))
        .unwrap_or_default();
    let id = format!(
        "gate-{}-{}-{weight}",
        deployment_id(&input.service_deployment_arn),
        input.stage.as_str()
    );
    let (severity, title, event_type) = match d.verdict {
        Verdict::Failed if dry_run => (
            Severity::Warning,
            format!(
                "Release of {service} failed the gate {stage}{}, let through",
                step(input)
            ),
            "gate-failed",
        ),
        Verdict::Failed => (
            Severity::Critical,
            format!(
                "Release of {service} stopped by the gate {stage}{}: rolling back",
                step(input)
            ),
            "gate-failed",
        ),
        _ => (
            Severity::Info,
            format!(
                "Release of {service} passed the gate {stage}{}",
                step(input)
            ),
            "gate-passed",
        ),
    };
    let checks: Vec<String> = d
        .checks
        .iter()
        .map(|c| {
            let mark = match c.held {
                Some(true) => "ok",
                Some(false) => "FAILED",
                None => "missing",
            };
            format!("- {}: {mark}, {}", c.name, neutralise(&c.says))
        })
        .collect();
    let mut description = neutralise(&d.reason);
    if !checks.is_empty() {
        description = format!("{description}\n{}", checks.join("\n"));
    }
    let mut n = Notification::new(id, severity, title, input.service_arn.clone())
        .describe(description)
        .event_type(event_type)
        .keywords(["deploy".to_string(), "gate".to_string()])
        .resources([
            input.service_arn.clone(),
            input.service_deployment_arn.clone(),
            input.target_revision_arn.clone(),
        ])
        .facts([
            ("stage".to_string(), input.stage.as_str().to_string()),
            (
                "serviceDeployment".to_string(),
                input.service_deployment_arn.clone(),
            ),
        ]);
    if !weight.is_empty() {
        n = n.facts([("productionWeight".to_string(), format!("{weight}%"))]);
    }
    if d.verdict == Verdict::Failed && !dry_run {
        n = n.next_steps([
            "ECS shifts traffic back to the previous revision; the deployment's outcome and its stopped tasks follow in this thread.".to_string(),
            format!(
                "See what ECS did: aws ecs describe-service-deployments --service-deployment-arns {}",
                input.service_deployment_arn
            ),
            "Fix what the failed check names, then push the image again.".to_string(),
        ]);
    }
    n.dry_run(dry_run)
}
