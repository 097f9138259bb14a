//! Each job's metrics against the catalogue: its name is its catalogue entry's, and over reports
//! of every kind it emits exactly the metrics (names and dimension sets) the catalogue lists for
//! it: nothing unlisted, nothing listed that it never emits.

use std::collections::BTreeMap;

use serde_json::Value;

use super::catalogue::{self, Function};
use super::{emitted_and_catalogued, Metrics};
use crate::alarms::{AlarmNotifier, AlarmReport, AlarmReports};
use crate::capacity::Restore;
use crate::deploy::decision::{Action as DeployAction, Decision, Reason};
use crate::deploy::outcome::{DeployedImage, DeploymentOutcome, Replacement, Resolution, Rollback};
use crate::deploy::pause::PauseReport;
use crate::deploy::{DeployReport, Deployer, PushReport, RolloutReport};
use crate::gate::plan::Verdict;
use crate::gate::{DeployGate, HookAnswer};
use crate::notify::Severity;
use crate::offhours::{Action as OffAction, Mode, OffHours, Planned, TickReport};
use crate::runtime::Job;
use crate::tasks::{Action as TaskAction, StopReport, TaskWatcher};
use crate::testing::FakeAws;

/// Asserts that `J` is `function` and that its metrics over `reports` are the catalogue's.
fn check<J: Job>(function: Function, reports: &[J::Report]) {
    assert_eq!(J::NAME, function.name);
    let records = reports.iter().map(|r| J::metrics(r, Metrics::new(J::NAME)));
    let (emitted, catalogued) = emitted_and_catalogued(function.name, records);
    assert_eq!(emitted, catalogued, "{}", function.name);
}

/// The same for a job organization mode runs: its own reports, and the wrapper's report of an
/// account it could not reach.
fn check_in_organizations<J: Job>(function: Function, reports: &[J::Report]) {
    assert_eq!(J::NAME, function.name);
    let records = reports
        .iter()
        .map(|r| J::metrics(r, Metrics::new(J::NAME)))
        .chain([crate::org::unreachable_metrics(Metrics::new(J::NAME))]);
    let (emitted, catalogued) = emitted_and_catalogued(function.name, records);
    assert_eq!(emitted, catalogued, "{}", function.name);
}

/// The value a metric has in the first record that declares it, for a dimension value.
fn value(metrics: Metrics, name: &str, key: Option<(&str, &str)>) -> Option<f64> {
    metrics.render(0).iter().find_map(|line| {
        let v: Value = serde_json::from_str(line).ok()?;
        let matches = match key {
            Some((k, value)) => v[k] == value,
            None => {
                v.get("Cause").is_none()
                    && v.get("Severity").is_none()
                    && v.get("Service").is_none()
            }
        };
        if matches {
            v[name].as_f64()
        } else {
            None
        }
    })
}

fn decision(reason: Reason) -> Decision {
    Decision {
        cluster: None,
        service: None,
        action: if reason == Reason::Deployed {
            DeployAction::Deploy
        } else {
            DeployAction::Skip
        },
        reason,
        detail: String::new(),
        task_definition_arn: None,
        dry_run: false,
    }
}

fn rollout(resolution: Resolution) -> DeployReport {
    DeployReport::Rollout {
        deployment: Box::new(RolloutReport {
            cluster: None,
            service: "web".into(),
            deployment_id: "ecs-svc/1".into(),
            outcome: DeploymentOutcome::Completed,
            notified: true,
            reason: None,
            resolution: Some(resolution),
            pruned: None,
            image: None,
            stopped_tasks: None,
            stopped_tasks_error: None,
            notification_id: None,
            replaced: None,
            service_deployment: None,
        }),
    }
}

#[test]
fn the_deployer_emits_its_catalogue() {
    let mut replaced = rollout(Resolution::Completed);
    if let DeployReport::Rollout { deployment } = &mut replaced {
        deployment.replaced = Some(Replacement {
            deployment: "ecs-svc/2".into(),
            by: DeployedImage::default(),
            replaced: DeployedImage::default(),
        });
    }
    check_in_organizations::<Deployer<FakeAws>>(
        catalogue::DEPLOYER,
        &[
            DeployReport::Push(PushReport {
                decisions: vec![decision(Reason::Deployed), decision(Reason::NoTag)],
                tag_problems: vec![],
            }),
            DeployReport::Pause {
                pause: PauseReport {
                    service_deployment_arn: "arn".into(),
                    hook_id: "h".into(),
                    event: "reminder".into(),
                    notified: true,
                    reason: None,
                    reminder_at: None,
                    notification_id: None,
                },
            },
            replaced,
            rollout(Resolution::Completed),
            rollout(Resolution::RolledBack(Rollback::default())),
            rollout(Resolution::Failed {
                failed: None,
                rollback: None,
            }),
        ],
    );
}

fn stop(cause: &'static str, actions: Vec<TaskAction>) -> StopReport {
    StopReport {
        task: "arn:aws:ecs:us-east-1:1:task/c/1".into(),
        group: Some("service:web".into()),
        service: Some("web".into()),
        cause,
        severity: Severity::Critical,
        actions,
        detail: String::new(),
        tagged: BTreeMap::new(),
        notification_id: None,
        tag_problems: vec![],
    }
}

#[test]
fn the_task_watcher_emits_its_catalogue_and_counts_each_stop_under_its_cause() {
    check_in_organizations::<TaskWatcher<FakeAws>>(
        catalogue::TASK_WATCHER,
        &[
            stop("out-of-memory", vec![TaskAction::CrashLoop]),
            stop("image-pull", vec![TaskAction::Alert, TaskAction::Restart]),
        ],
    );
    let m = || {
        TaskWatcher::<FakeAws>::metrics(
            &stop("out-of-memory", vec![TaskAction::CrashLoop]),
            Metrics::new("task-watcher"),
        )
    };
    assert_eq!(value(m(), "StoppedTasks", None), Some(1.0));
    assert_eq!(
        value(m(), "StoppedTasks", Some(("Cause", "out-of-memory"))),
        Some(1.0)
    );
    assert_eq!(value(m(), "CrashLoops", None), Some(1.0));
    assert_eq!(value(m(), "Alerts", None), Some(1.0));
}

fn alarm(severity: Severity, published: bool) -> AlarmReport {
    AlarmReport {
        alarm: "a".into(),
        state: "ALARM".into(),
        previous_state: None,
        severity,
        topic: None,
        published,
        reason: None,
    }
}

#[test]
fn the_alarm_notifier_emits_its_catalogue_by_severity() {
    let batch = AlarmReports::Records {
        records: vec![
            alarm(Severity::Critical, true),
            alarm(Severity::Critical, true),
            alarm(Severity::Warning, false),
        ],
    };
    check_in_organizations::<AlarmNotifier<FakeAws>>(
        catalogue::ALARM_NOTIFIER,
        std::slice::from_ref(&batch),
    );
    let m = || AlarmNotifier::<FakeAws>::metrics(&batch, Metrics::new("alarm-notifier"));
    assert_eq!(value(m(), "AlarmsPublished", None), Some(2.0));
    assert_eq!(value(m(), "AlarmsSuppressed", None), Some(1.0));
    assert_eq!(
        value(m(), "AlarmsPublished", Some(("Severity", "critical"))),
        Some(2.0)
    );
    assert_eq!(
        value(m(), "AlarmsSuppressed", Some(("Severity", "warning"))),
        Some(1.0)
    );
    // A quiet invocation still says zero.
    let none = AlarmReports::Records { records: vec![] };
    let quiet = AlarmNotifier::<FakeAws>::metrics(&none, Metrics::new("alarm-notifier"));
    assert_eq!(quiet.render(0).len(), 1);
    assert_eq!(value(quiet, "AlarmsPublished", None), Some(0.0));
}

fn planned(action: OffAction, restore: Option<Restore>) -> Planned {
    Planned {
        cluster: "c".into(),
        service: "s".into(),
        action,
        reason: String::new(),
        restore,
        resume: false,
        error: None,
    }
}

fn tick(services: Vec<Planned>, savings: Option<f64>) -> TickReport {
    TickReport {
        mode: Mode::Asleep,
        now: "2026-12-01T22:00:00Z".into(),
        services,
        estimated_savings: savings,
        price_basis: vec![],
        savings_by_service: BTreeMap::new(),
        notification_id: None,
        notification_error: None,
        tag_problems: vec![],
    }
}

#[test]
fn off_hours_emits_its_catalogue_with_services_asleep_and_the_savings() {
    let restore = Some(Restore {
        desired: 2,
        min: None,
        max: None,
        suspended: None,
    });
    let night = tick(
        vec![
            planned(OffAction::Sleep, restore),
            planned(OffAction::None, restore),
            planned(OffAction::None, None),
            planned(OffAction::Skip, None),
            planned(OffAction::Error, None),
        ],
        Some(1.75),
    );
    let mut night = night;
    night.savings_by_service = BTreeMap::from([("dev/web".to_string(), 1.75)]);
    check_in_organizations::<OffHours<FakeAws>>(catalogue::OFF_HOURS, std::slice::from_ref(&night));
    let m = || OffHours::<FakeAws>::metrics(&night, Metrics::new("off-hours"));
    // Put to sleep now, and asleep already; not the one at zero that off-hours left alone.
    assert_eq!(value(m(), "ServicesAsleep", None), Some(2.0));
    assert_eq!(value(m(), "EstimatedSavingsUSD", None), Some(1.75));
    // Each service under its own Service too: the weekly account's per-service figures.
    assert_eq!(
        value(m(), "EstimatedSavingsUSD", Some(("Service", "dev/web"))),
        Some(1.75)
    );
    assert_eq!(value(m(), "Services", None), Some(5.0));
    let morning = tick(vec![planned(OffAction::Wake, restore)], None);
    let m = OffHours::<FakeAws>::metrics(&morning, Metrics::new("off-hours"));
    let lines = m.render(0);
    let v: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["ServicesAsleep"], 0.0);
    assert_eq!(v["EstimatedSavingsUSD"], 0.0);
    assert_eq!(v["Woke"], 1.0);
}

#[test]
fn the_deploy_gate_emits_its_catalogue() {
    let answer = |hook_status| HookAnswer {
        hook_status,
        call_back_delay: None,
        hook_details: None,
    };
    check::<DeployGate<FakeAws>>(
        catalogue::DEPLOY_GATE,
        &[
            answer(Verdict::Succeeded),
            answer(Verdict::Failed),
            answer(Verdict::InProgress),
        ],
    );
}
