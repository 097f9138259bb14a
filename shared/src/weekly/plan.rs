//! The weekly account, pure: what to read back (every metric of the catalogue the account
//! tells, under each function's Lambda name), and the week's figures and last week's made into
//! one message a person reads in ten seconds.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::metrics::catalogue::{self, Function};
use crate::metrics::Metric;
use crate::notify::{neutralise, Notification, Severity};

/// Minutes between off-hours' ticks: each tick counts every service asleep once, so a week's
/// sum of `ServicesAsleep` times this is its service-hours asleep.
pub const TICK_MINUTES: f64 = 15.0;

/// One figure to read back: a metric of one function, its total or one value of its key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Figure {
    /// The function's `Function` dimension value (its Lambda name).
    pub function: String,
    pub metric: &'static str,
    /// `(key, value)` of a breakdown; `None` for the total.
    pub by: Option<(&'static str, String)>,
}

/// The metrics the account tells, by function (the off-hours ones only where it runs).
pub const TOLD: [(Function, &[Metric]); 4] = [
    (
        catalogue::DEPLOYER,
        &[
            catalogue::DEPLOYS,
            catalogue::DEPLOYMENTS_COMPLETED,
            catalogue::DEPLOYMENTS_FAILED,
            catalogue::DEPLOYMENTS_ROLLED_BACK,
        ],
    ),
    (
        catalogue::TASK_WATCHER,
        &[
            catalogue::STOPPED_TASKS,
            catalogue::CRASH_LOOPS,
            catalogue::RESTARTS,
        ],
    ),
    (
        catalogue::ALARM_NOTIFIER,
        &[catalogue::ALARMS_PUBLISHED, catalogue::ALARMS_SUPPRESSED],
    ),
    (
        catalogue::OFF_HOURS,
        &[catalogue::SERVICES_ASLEEP, catalogue::ESTIMATED_SAVINGS_USD],
    ),
];

/// The figures to read: each told metric's total, and each value of its key that CloudWatch
/// lists (`breakdowns`: by metric name, the values seen).
pub fn figures(install: &str, breakdowns: &BTreeMap<&'static str, Vec<String>>) -> Vec<Figure> {
    let mut out = vec![];
    for (function, metrics) in TOLD {
        let name = format!("{install}-{}", function.name);
        for m in metrics {
            out.push(Figure {
                function: name.clone(),
                metric: m.name,
                by: None,
            });
            if let Some(key) = m.by {
                for value in breakdowns.get(m.name).into_iter().flatten() {
                    out.push(Figure {
                        function: name.clone(),
                        metric: m.name,
                        by: Some((key, value.clone())),
                    });
                }
            }
        }
    }
    out
}

/// A week's sums, by figure (a figure with no data is absent: nothing happened).
pub type Sums = BTreeMap<Figure, f64>;

/// What a week comes to.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Week {
    pub deploys: f64,
    pub completed: f64,
    pub failed: f64,
    pub rolled_back: f64,
    pub stops: f64,
    pub stops_by_cause: BTreeMap<String, f64>,
    pub crash_loops: f64,
    pub restarts: f64,
    pub paged: f64,
    pub paged_by_severity: BTreeMap<String, f64>,
    pub quieted: f64,
    pub service_hours_asleep: f64,
    pub hours_by_service: BTreeMap<String, f64>,
    pub saved: f64,
    pub saved_by_service: BTreeMap<String, f64>,
}

impl Week {
    pub fn of(sums: &Sums) -> Week {
        let total = |metric: &str| -> f64 {
            sums.iter()
                .filter(|(f, _)| f.metric == metric && f.by.is_none())
                .map(|(_, v)| v)
                .sum::<f64>()
                + 0.0
        };
        let by = |metric: &str| -> BTreeMap<String, f64> {
            sums.iter()
                .filter(|(f, v)| f.metric == metric && **v != 0.0)
                .filter_map(|(f, v)| Some((f.by.as_ref()?.1.clone(), *v)))
                .collect()
        };
        let hours = TICK_MINUTES / 60.0;
        Week {
            deploys: total(catalogue::DEPLOYS.name),
            completed: total(catalogue::DEPLOYMENTS_COMPLETED.name),
            failed: total(catalogue::DEPLOYMENTS_FAILED.name),
            rolled_back: total(catalogue::DEPLOYMENTS_ROLLED_BACK.name),
            stops: total(catalogue::STOPPED_TASKS.name),
            stops_by_cause: by(catalogue::STOPPED_TASKS.name),
            crash_loops: total(catalogue::CRASH_LOOPS.name),
            restarts: total(catalogue::RESTARTS.name),
            paged: total(catalogue::ALARMS_PUBLISHED.name),
            paged_by_severity: by(catalogue::ALARMS_PUBLISHED.name),
            quieted: total(catalogue::ALARMS_SUPPRESSED.name),
            service_hours_asleep: total(catalogue::SERVICES_ASLEEP.name) * hours,
            hours_by_service: by(catalogue::SERVICES_ASLEEP.name)
                .into_iter()
                .map(|(s, n)| (s, n * hours))
                .collect(),
            saved: total(catalogue::ESTIMATED_SAVINGS_USD.name),
            saved_by_service: by(catalogue::ESTIMATED_SAVINGS_USD.name),
        }
    }

    fn quiet(&self) -> bool {
        self.deploys == 0.0
            && self.completed + self.failed + self.rolled_back == 0.0
            && self.stops == 0.0
            && self.paged + self.quieted == 0.0
            && self.service_hours_asleep == 0.0
    }
}

/// `x` with a negative zero (an empty sum's) made positive: `-0` is no figure to print.
fn plain(x: f64) -> f64 {
    x + 0.0
}

fn n(x: f64) -> String {
    format!("{:.0}", plain(x))
}

fn dollars(x: f64) -> String {
    format!("${:.2}", plain(x))
}

/// `+3` / `-2` / `same` against last week.
fn change(now: f64, before: f64, show: fn(f64) -> String) -> String {
    let d = now - before;
    if d.abs() < 0.005 {
        "same as last week".into()
    } else if d > 0.0 {
        format!("+{} on last week", show(d))
    } else {
        format!("-{} on last week", show(-d))
    }
}

/// The largest entries of a breakdown, `name 12, other 3`, at most `most`.
fn largest(by: &BTreeMap<String, f64>, most: usize, show: fn(f64) -> String) -> String {
    let mut items: Vec<(&String, &f64)> = by.iter().collect();
    items.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
    let mut parts: Vec<String> = items
        .iter()
        .take(most)
        .map(|(k, v)| format!("{} {}", neutralise(k), show(**v)))
        .collect();
    if items.len() > most {
        parts.push(format!("and {} more", items.len() - most));
    }
    parts.join(", ")
}

/// The thread every weekly account of an install goes to.
pub fn thread(install: &str) -> String {
    format!("autopilot-weekly-{install}")
}

/// The week's message: one line each for deploys, stops, alarms and sleep, with last week's
/// difference, the largest causes, severities and services; the title says the headline.
pub fn notice(
    install: &str,
    this: &Week,
    last: &Week,
    end: DateTime<Utc>,
    dry_run: bool,
) -> Notification {
    let start = end - Duration::days(7);
    let span = format!(
        "{} to {}",
        start.format("%a %d %b"),
        end.format("%a %d %b %Y")
    );
    let deploys = if this.completed == 1.0 {
        "deploy"
    } else {
        "deploys"
    };
    let mut headline = vec![format!("{} {deploys}", n(this.completed))];
    if this.failed + this.rolled_back > 0.0 {
        headline.push(format!(
            "{} failed or rolled back",
            n(this.failed + this.rolled_back)
        ));
    }
    if this.crash_loops > 0.0 {
        headline.push(format!("{} crash loops caught", n(this.crash_loops)));
    }
    if this.saved > 0.0 {
        headline.push(format!("{} saved asleep", dollars(this.saved)));
    }
    let title = if this.quiet() {
        format!("{install}: a quiet week ({span})")
    } else {
        format!(
            "{install}, week to {}: {}",
            end.format("%d %b"),
            headline.join(", ")
        )
    };
    let mut lines = vec![format!("The week {span} (UTC).")];
    lines.push(format!(
        "Deploys: {} completed, {} failed, {} rolled back ({}); {} started from pushes.",
        n(this.completed),
        n(this.failed),
        n(this.rolled_back),
        change(this.completed, last.completed, n),
        n(this.deploys)
    ));
    let causes = if this.stops_by_cause.is_empty() {
        String::new()
    } else {
        format!(": {}", largest(&this.stops_by_cause, 4, n))
    };
    lines.push(format!(
        "Stopped tasks: {}{causes} ({}); {} crash loops caught, {} tasks restarted.",
        n(this.stops),
        change(this.stops, last.stops, n),
        n(this.crash_loops),
        n(this.restarts)
    ));
    let severities = if this.paged_by_severity.is_empty() {
        String::new()
    } else {
        format!(" ({})", largest(&this.paged_by_severity, 3, n))
    };
    lines.push(format!(
        "Alarms: {} sent to chat{severities}, {} kept quiet (flapping, or a service asleep) ({}).",
        n(this.paged),
        n(this.quieted),
        change(this.paged, last.paged, n)
    ));
    if this.service_hours_asleep > 0.0 || last.service_hours_asleep > 0.0 {
        let services = if this.saved_by_service.is_empty() {
            String::new()
        } else {
            format!(
                "; by service: {}",
                largest(&this.saved_by_service, 5, dollars)
            )
        };
        let hours = if this.service_hours_asleep < 10.0 {
            format!("{:.1}", plain(this.service_hours_asleep))
        } else {
            n(this.service_hours_asleep)
        };
        lines.push(format!(
            "Asleep: {hours} service-hours, about {} of Fargate saved ({}){services}.",
            dollars(this.saved),
            change(this.saved, last.saved, dollars)
        ));
    }
    let severity = if this.failed + this.rolled_back + this.crash_loops > 0.0 {
        Severity::Warning
    } else {
        Severity::Info
    };
    let mut message = Notification::new(
        format!("weekly-{install}-{}", end.format("%Y-%m-%d")),
        severity,
        title,
        thread(install),
    )
    .describe(lines.join("\n"))
    .event_type("weekly-account")
    .keywords(["weekly".to_string()])
    .facts([
        ("week".to_string(), span),
        ("completed".to_string(), format!("{}", this.completed)),
        ("stops".to_string(), format!("{}", this.stops)),
        ("saved".to_string(), dollars(this.saved)),
    ]);
    if this.quiet() {
        message = message.summary(format!("{install}: a quiet week"));
    }
    message.dry_run(dry_run)
}
