//! The weekly account: once a week, one message per install in the same thread, of what the
//! autopilot did: deploys and their outcomes, stopped tasks by cause and crash loops caught,
//! alarms sent and kept quiet, service-hours asleep and what that saved, per service and in
//! total, each against last week. Its figures are the functions' own metrics read back
//! (ListMetrics for the values a breakdown took, one GetMetricData for two weeks); it keeps no
//! store of its own.

pub mod plan;
pub mod ports;

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::aws::cloudwatch::Series;
use crate::aws::{CallLog, Clients};
use crate::config::Env;
use crate::error::{Error, Result};
use crate::metrics::{catalogue, Metrics};
use crate::runtime::Job;
use plan::{Figure, Sums, Week};
pub use ports::WeeklyPorts;

/// The weekly account's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct WeeklyConfig {
    pub topic_arn: String,
    /// `<ProjectName>-<Environment>`: the prefix of the install's functions' names (their
    /// metrics' `Function` value) and the name the message gives it.
    pub install: String,
    pub dry_run: bool,
}

impl WeeklyConfig {
    pub fn from_env() -> Result<Self> {
        Self::from(&Env::process())
    }

    pub fn from(env: &Env) -> Result<Self> {
        let install = env.required("INSTALL")?;
        let ok = install.len() <= 64
            && install
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(Error::Config {
                var: "INSTALL",
                message: format!(
                    "must be <ProjectName>-<Environment> (letters, digits, - and _), got {install:?}"
                ),
            });
        }
        Ok(WeeklyConfig {
            topic_arn: env.topic_arn("NOTIFY_TOPIC_ARN")?,
            install,
            dry_run: env.bool_or("DRY_RUN", false)?,
        })
    }
}

/// What the invocation returns: the two weeks' figures, and the message.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WeeklyReport {
    pub week_ending: String,
    pub this_week: Week,
    pub last_week: Week,
    pub notification_id: String,
}

/// The weekly account; built once per process.
pub struct WeeklyAccount<P = Clients> {
    pub clients: P,
    pub config: WeeklyConfig,
}

impl<P: WeeklyPorts> WeeklyAccount<P> {
    pub fn new(clients: P, config: WeeklyConfig) -> Self {
        WeeklyAccount { clients, config }
    }

    /// Reads the values each breakdown took, then both weeks' sums in one go.
    async fn read(&self, end: DateTime<Utc>) -> Result<(Sums, Sums)> {
        // The breakdowns' values, listed side by side.
        let listings = plan::TOLD.iter().flat_map(|(function, metrics)| {
            let name = format!("{}-{}", self.config.install, function.name);
            metrics.iter().filter_map(move |m| {
                let key = m.by?;
                let name = name.clone();
                Some(async move {
                    let values = self.clients.dimension_values(m.name, &name, key).await?;
                    Ok::<_, Error>((m.name, values))
                })
            })
        });
        let breakdowns: BTreeMap<&'static str, Vec<String>> =
            futures_util::future::try_join_all(listings)
                .await?
                .into_iter()
                .collect();
        let figures: Vec<Figure> = plan::figures(&self.config.install, &breakdowns);
        let series: Vec<Series> = figures
            .iter()
            .map(|f| {
                let mut dimensions = vec![("Function".to_string(), f.function.clone())];
                if let Some((k, v)) = &f.by {
                    dimensions.push((k.to_string(), v.clone()));
                }
                Series {
                    name: f.metric.to_string(),
                    dimensions,
                }
            })
            .collect();
        let sums = self.clients.weekly_sums(&series, end, 2).await?;
        let (mut last, mut this) = (Sums::new(), Sums::new());
        for (figure, weeks) in figures.into_iter().zip(sums) {
            let (before, now) = (
                weeks.first().copied().unwrap_or(0.0),
                weeks.get(1).copied().unwrap_or(0.0),
            );
            if before != 0.0 {
                last.insert(figure.clone(), before);
            }
            if now != 0.0 {
                this.insert(figure, now);
            }
        }
        Ok((this, last))
    }
}

impl<P: WeeklyPorts> Job for WeeklyAccount<P> {
    const NAME: &'static str = "weekly-account";
    type Event = DateTime<Utc>;
    type Report = WeeklyReport;

    /// The schedule's event: the week ends at its `time`.
    fn parse(&self, event: Value) -> Result<DateTime<Utc>> {
        crate::events::scheduled_time(&event)
    }

    async fn run(&self, end: DateTime<Utc>) -> Result<WeeklyReport> {
        let (this, last) = self.read(end).await?;
        let (this, last) = (Week::of(&this), Week::of(&last));
        let n = plan::notice(&self.config.install, &this, &last, end, self.config.dry_run);
        self.clients.publish(&self.config.topic_arn, &n).await?;
        Ok(WeeklyReport {
            week_ending: end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            this_week: this,
            last_week: last,
            notification_id: n.id,
        })
    }

    fn metrics(_report: &WeeklyReport, metrics: Metrics) -> Metrics {
        metrics.count(&catalogue::WEEKLY_ACCOUNTS, 1)
    }

    fn calls(&self) -> &CallLog {
        self.clients.calls()
    }
}
