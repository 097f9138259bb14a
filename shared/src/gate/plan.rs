//! The gate's decision, pure: the hook invocation, what it remembers of the stage (kept by
//! ECS in `hookDetails` between its `IN_PROGRESS` answers), what it read, the settings and the
//! clock in; pass, fail or wait out.
//!
//! A stage is watched from its first invocation: alarms that go to `ALARM` fail it at once;
//! after the soak every check must hold (alarms `OK`, enough healthy targets, enough requests,
//! few enough 5XX); what is still missing after the soak (data, requests, healthy targets) is
//! waited for until the patience runs out, then the stage fails naming what was missing.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::config::GateSettings;
use crate::events::{HookInvocation, LifecycleStage};
use crate::model::deployment::ServiceDeploymentBrief;
pub use crate::model::health::{AlarmReading, TargetHealth, Traffic};

/// Consecutive invocations whose reads failed after which the stage fails: a gate that cannot
/// see does not let a release through.
pub const MAX_READ_FAILURES: u32 = 5;

/// The key of `hookDetails` under which the gate keeps what it remembers of a stage.
pub const MEMORY_KEY: &str = "autopilot";

/// What the gate remembers of the stage it is watching.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    /// The stage, as ECS spells it.
    pub stage: String,
    /// The new revision's production weight when the stage began: a linear or canary
    /// deployment invokes the same stage at every step, each its own watch.
    pub step: Option<f64>,
    pub since: DateTime<Utc>,
    /// Whether the stage's first reads (the deployment, the service's settings) were made.
    #[serde(default)]
    pub begun: bool,
    /// Invocations so far in this stage.
    pub checks: u32,
    /// Consecutive invocations whose reads failed.
    pub read_failures: u32,
    /// The settings the stage began with (the service's tags are read once per stage).
    pub settings: GateSettings,
    /// The new revision's target group, and its load balancer's metric dimension
    /// (`app/<name>/<id>`), read once per stage.
    pub target_group: Option<String>,
    pub load_balancer: Option<String>,
    /// Tasks the new revision asked for.
    pub requested_tasks: Option<u32>,
    /// The deployment's bake time (minutes both revisions run after the full shift).
    #[serde(default)]
    pub bake_minutes: Option<i32>,
}

impl Memory {
    /// What the invocation carries of the stage it belongs to: `None` when it carries nothing,
    /// or what it carries belongs to another stage or step (a memory that is not this stage's
    /// is never used: ECS documents that hook details persist only between invocations of one
    /// hook in one deployment).
    pub fn of(input: &HookInvocation) -> Option<Memory> {
        let memory: Memory =
            serde_json::from_value(input.hook_details.get(MEMORY_KEY)?.clone()).ok()?;
        (memory.stage == input.stage.as_str() && memory.step == input.green_production_weight())
            .then_some(memory)
    }
}

/// What the deployment is, read at the first invocation of a stage: ECS's description of it,
/// and from its new revision's resolved configuration the target group and load balancer.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentFacts {
    #[serde(skip)]
    pub deployment: ServiceDeploymentBrief,
    pub target_group: Option<String>,
    /// Its CloudWatch dimension, `app/<name>/<id>`.
    pub load_balancer: Option<String>,
}

/// What the gate read for this invocation; `None` for what it did not need or could not read.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Facts {
    pub alarms: Option<Vec<AlarmReading>>,
    pub targets: Option<TargetHealth>,
    pub traffic: Option<Traffic>,
    /// Reads that failed, each `Operation: error`.
    pub read_errors: Vec<String>,
}

/// The answer the gate gives ECS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// `SUCCEEDED`: the deployment goes on.
    Succeeded,
    /// `FAILED`: ECS rolls the deployment back.
    Failed,
    /// `IN_PROGRESS`: ECS asks again after the callback delay.
    InProgress,
}

/// One check, as the stage's message tells it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: &'static str,
    /// `Some(true)` held, `Some(false)` failed for good, `None` not yet (waiting).
    pub held: Option<bool>,
    pub says: String,
}

/// The gate's decision for one invocation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub verdict: Verdict,
    /// Why, in one sentence.
    pub reason: String,
    pub checks: Vec<Check>,
    /// What the gate remembers for its next invocation (only with `IN_PROGRESS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Whether this decision belongs in chat: a judged stage's pass or failure, not a wait,
    /// not a stage the gate lets through without looking.
    pub tell: bool,
}

impl Decision {
    fn quiet(verdict: Verdict, reason: impl Into<String>) -> Self {
        Decision {
            verdict,
            reason: reason.into(),
            checks: vec![],
            memory: None,
            tell: false,
        }
    }
}

/// The stages the gate judges: after the test traffic shift (the new revision has test
/// traffic only), before each production traffic step (once for blue/green, before every step
/// of linear and canary), and after the full production shift (before the bake time ends and
/// the old revision goes). During the shifts themselves (`TEST_TRAFFIC_SHIFT`,
/// `PRODUCTION_TRAFFIC_SHIFT`, which ECS also invokes to roll back) it lets everything through.
pub fn judges(stage: &LifecycleStage) -> bool {
    matches!(
        stage,
        LifecycleStage::PostTestTrafficShift
            | LifecycleStage::PreProductionTrafficShift
            | LifecycleStage::PostProductionTrafficShift
    )
}

/// Whether the new revision has had production traffic by this stage (so its production
/// requests count): after the full shift, or before a step that follows a step that gave it
/// some.
pub fn has_production_traffic(input: &HookInvocation) -> bool {
    match input.stage {
        LifecycleStage::PostProductionTrafficShift => true,
        LifecycleStage::PreProductionTrafficShift => {
            input.green_production_weight().unwrap_or(0.0) > 0.0
        }
        _ => false,
    }
}

/// Before any read: let through what the gate does not judge; otherwise say whether this is
/// the stage's first invocation (it then reads the deployment and the service's settings).
pub enum Triage {
    Pass(Decision),
    Watch { memory: Option<Memory> },
}

pub fn triage(input: &HookInvocation) -> Triage {
    if input.is_rollback_shift() {
        return Triage::Pass(Decision::quiet(
            Verdict::Succeeded,
            "a rollback is shifting traffic back to the previous revision: the gate lets it through",
        ));
    }
    if !judges(&input.stage) {
        return Triage::Pass(Decision::quiet(
            Verdict::Succeeded,
            format!(
                "the gate does not judge the {} stage: it lets it through",
                input.stage
            ),
        ));
    }
    Triage::Watch {
        memory: Memory::of(input),
    }
}

/// At a stage's first invocation: what the deployment says decides before any health check
/// (a rollback passes; a service's first deployment has nothing to protect); otherwise the
/// stage's memory begins.
pub fn begin(
    input: &HookInvocation,
    facts: &DeploymentFacts,
    settings: GateSettings,
    since: DateTime<Utc>,
) -> Result<Memory, Box<Decision>> {
    let deployment = &facts.deployment;
    if deployment.is_rollback() {
        return Err(Box::new(Decision::quiet(
            Verdict::Succeeded,
            format!(
                "the deployment is rolling back ({}): the gate lets every stage through",
                deployment.status
            ),
        )));
    }
    if !deployment.has_source {
        return Err(Box::new(Decision {
            tell: true,
            ..Decision::quiet(
                Verdict::Succeeded,
                "the service's first deployment: there is no running release to protect",
            )
        }));
    }
    Ok(Memory {
        stage: input.stage.as_str().to_string(),
        step: input.green_production_weight(),
        since,
        begun: true,
        checks: 0,
        read_failures: 0,
        settings,
        target_group: facts.target_group.clone(),
        load_balancer: facts.load_balancer.clone(),
        requested_tasks: deployment.requested_tasks,
        bake_minutes: deployment.bake_minutes,
    })
}

/// The memory of a stage whose first reads failed: it keeps when the stage began and how many
/// reads failed, so the next invocation tries again and a gate that stays blind fails.
pub fn unbegun(input: &HookInvocation, defaults: &GateSettings, now: DateTime<Utc>) -> Memory {
    Memory {
        stage: input.stage.as_str().to_string(),
        step: input.green_production_weight(),
        since: now,
        begun: false,
        checks: 0,
        read_failures: 0,
        settings: defaults.clone(),
        target_group: None,
        load_balancer: None,
        requested_tasks: None,
        bake_minutes: None,
    }
}

/// What the gate answers when it could not read what it needs: it looks again at the next
/// callback, and fails the stage once `failures` reaches [`MAX_READ_FAILURES`] (a gate does not
/// let through what it cannot see).
pub fn blind(errors: String, failures: u32, waiting: Option<Memory>) -> Decision {
    match waiting.filter(|_| failures < MAX_READ_FAILURES) {
        Some(memory) => Decision {
            verdict: Verdict::InProgress,
            reason: format!("a read failed ({errors}): the gate looks again"),
            checks: vec![],
            memory: Some(Memory {
                read_failures: failures,
                ..memory
            }),
            tell: false,
        },
        None => Decision {
            verdict: Verdict::Failed,
            reason: format!(
                "the gate could not read the release's health ({errors}, {failures} time(s) in a row): it does not let through what it cannot see"
            ),
            checks: vec![],
            memory: None,
            tell: true,
        },
    }
}

fn minutes(d: Duration) -> String {
    let m = d.num_seconds() as f64 / 60.0;
    if m < 10.0 {
        format!("{m:.1} min")
    } else {
        format!("{m:.0} min")
    }
}

/// Judges one invocation of a watched stage.
pub fn judge(
    input: &HookInvocation,
    memory: Memory,
    facts: &Facts,
    now: DateTime<Utc>,
) -> Decision {
    let mut memory = Memory {
        checks: memory.checks + 1,
        ..memory
    };
    let s = memory.settings.clone();
    let watched = now - memory.since;
    let soak = Duration::minutes(i64::from(s.soak_minutes));
    let deadline = soak + Duration::minutes(i64::from(s.patience_minutes));

    if !facts.read_errors.is_empty() {
        let failures = memory.read_failures + 1;
        return blind(facts.read_errors.join("; "), failures, Some(memory));
    }
    memory.read_failures = 0;

    let mut checks = vec![];
    // Alarms: ALARM fails at once; INSUFFICIENT_DATA waits, unless allowed.
    if let Some(alarms) = &facts.alarms {
        let firing: Vec<&AlarmReading> = alarms.iter().filter(|a| a.state == "ALARM").collect();
        let missing: Vec<&str> = s
            .alarms
            .iter()
            .filter(|n| !alarms.iter().any(|a| &a.name == *n))
            .map(String::as_str)
            .collect();
        let no_data: Vec<&str> = alarms
            .iter()
            .filter(|a| a.state == "INSUFFICIENT_DATA")
            .map(|a| a.name.as_str())
            .collect();
        let (held, says) = if let Some(a) = firing.first() {
            (
                Some(false),
                format!(
                    "alarm {} is in ALARM{}",
                    a.name,
                    a.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
            )
        } else if !missing.is_empty() {
            (
                Some(false),
                format!("alarm {} does not exist", missing.join(", ")),
            )
        } else if !no_data.is_empty() && !s.allow_insufficient_data {
            (
                None,
                format!(
                    "alarm {} has no data (INSUFFICIENT_DATA): not a pass unless the service allows it",
                    no_data.join(", ")
                ),
            )
        } else {
            (Some(true), format!("{} alarm(s) OK", alarms.len()))
        };
        checks.push(Check {
            name: "alarms",
            held,
            says,
        });
    }

    // Healthy targets: the new revision's target group, against the minimum.
    let need = s
        .min_healthy_targets
        .or(memory.requested_tasks)
        .unwrap_or(1)
        .max(1);
    if let Some(t) = &facts.targets {
        let total = t.healthy + t.initial + t.unhealthy + t.other;
        let why = t
            .reasons
            .first()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        let held = if t.healthy >= need { Some(true) } else { None };
        checks.push(Check {
            name: "targets",
            held,
            says: format!(
                "{} of {total} target(s) healthy, {need} needed{why}",
                t.healthy
            ),
        });
    }

    // Traffic: enough requests (production or test), few enough 5XX.
    let production = has_production_traffic(input);
    let min = if production {
        s.min_requests
    } else {
        s.min_test_requests
    };
    let kind = if production { "production" } else { "test" };
    if let Some(t) = facts.traffic {
        checks.push(Check {
            name: "requests",
            held: if t.requests >= f64::from(min) {
                Some(true)
            } else {
                None
            },
            says: format!(
                "{:.0} {kind} request(s) in {}, {min} needed",
                t.requests,
                minutes(watched)
            ),
        });
        if t.requests > 0.0 {
            let percent = 100.0 * t.errors / t.requests;
            checks.push(Check {
                name: "errors",
                held: Some(percent <= s.max_error_percent),
                says: format!(
                    "{percent:.2}% of its requests answered 5XX ({:.0}), at most {}% allowed",
                    t.errors, s.max_error_percent
                ),
            });
        }
    }

    if facts.traffic.is_none()
        && watched >= soak
        && min > 0
        && (memory.target_group.is_none() || memory.load_balancer.is_none())
    {
        checks.push(Check {
            name: "requests",
            held: Some(false),
            says: format!(
                "its {kind} requests cannot be counted: the new revision has no load balancer target group (a service without one sets autopilot:gate-min-requests and autopilot:gate-min-test-requests to 0)"
            ),
        });
    }

    if let Some(bad) = checks.iter().find(|c| c.held == Some(false)) {
        return Decision {
            verdict: Verdict::Failed,
            reason: format!("{}: the release is rolled back", bad.says),
            checks,
            memory: None,
            tell: true,
        };
    }
    if watched < soak {
        return Decision {
            verdict: Verdict::InProgress,
            reason: format!(
                "watching the release: {} of the {}-minute soak",
                minutes(watched),
                s.soak_minutes
            ),
            checks,
            memory: Some(memory),
            tell: false,
        };
    }
    let waiting: Vec<&Check> = checks.iter().filter(|c| c.held.is_none()).collect();
    if waiting.is_empty() {
        let then = match (&input.stage, memory.bake_minutes) {
            (LifecycleStage::PostProductionTrafficShift, Some(m)) => format!(
                "; all production traffic stays on it, and ECS keeps the previous revision for the {m}-minute bake time, then removes it"
            ),
            _ => String::new(),
        };
        return Decision {
            verdict: Verdict::Succeeded,
            reason: format!("healthy after {} of watching{then}", minutes(watched)),
            checks,
            memory: None,
            tell: true,
        };
    }
    let says: Vec<&str> = waiting.iter().map(|c| c.says.as_str()).collect();
    if watched < deadline {
        return Decision {
            verdict: Verdict::InProgress,
            reason: format!("soaked; still waiting: {}", says.join("; ")),
            checks,
            memory: Some(memory),
            tell: false,
        };
    }
    Decision {
        verdict: Verdict::Failed,
        reason: format!(
            "still missing after {} ({}-minute soak and {}-minute patience): {}",
            minutes(watched),
            s.soak_minutes,
            s.patience_minutes,
            says.join("; ")
        ),
        checks,
        memory: None,
        tell: true,
    }
}

/// Whether this invocation reads the new revision's traffic: only once the soak is over
/// (before, nothing would be decided on it) and when a check needs it.
pub fn reads_traffic(input: &HookInvocation, memory: &Memory, now: DateTime<Utc>) -> bool {
    let s = &memory.settings;
    let soaked = now - memory.since >= Duration::minutes(i64::from(s.soak_minutes));
    let min = if has_production_traffic(input) {
        s.min_requests
    } else {
        s.min_test_requests
    };
    soaked
        && memory.target_group.is_some()
        && memory.load_balancer.is_some()
        && (min > 0 || s.max_error_percent < 100.0)
}
