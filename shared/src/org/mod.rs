//! Organization mode: one install (the hub) serving every member account of an AWS
//! Organization. Each event is handled in the account it comes from (the event's `account`,
//! which EventBridge sets to the account the event originated in and keeps when a rule forwards
//! it to the hub's bus), by the same job as in one account, built on clients whose credentials
//! are the role assumed there ([`ports::Hub`]). Those clients, the role's credentials and the
//! account's alias are kept per account for the life of the process.
//!
//! An account whose role cannot be assumed is reported once (remembered on the hub's chat
//! topic), its event answered without error, and the other accounts go on.

pub mod config;
pub mod notices;
pub mod ports;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use serde::Serialize;
use serde_json::Value;

use crate::aws::{CallLog, Clients};
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::model::account::{is_account_id, Account};
use crate::runtime::{Handler, Job};

pub use config::OrgConfig;
use ports::{Hub, Opened, Spokes};

/// What an invocation in organization mode returns: the account, and the job's own report, or
/// why the account could not be reached.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InAccount<R> {
    pub account: Account,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<R>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<Unreachable>,
}

/// An account whose role could not be assumed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unreachable {
    pub role_arn: String,
    pub code: String,
    pub message: String,
    /// Whether this invocation said it in chat (false: it had been said already).
    pub notified: bool,
}

/// An account's job, as chat names the account, and the role's session.
type Ready<J, S> = (Arc<J>, Account, S);

/// A job run in the account each event comes from.
pub struct InAccounts<J, S: Spokes, F> {
    spokes: S,
    config: OrgConfig,
    build: F,
    /// A job on the hub's own ports, which only parses events (parsing is pure).
    parser: J,
    /// Each account's job, built once the role was assumed there, with the role's session.
    jobs: Mutex<HashMap<String, Ready<J, S::Session>>>,
    /// The accounts reported unreachable, as last read (the hub's topic tags): read once per
    /// process, and kept up to date with what this process reports and forgets.
    reported: Mutex<Option<BTreeMap<String, String>>>,
    /// The hub's region: the one organization mode serves.
    region: Option<String>,
}

impl<J, S, F> InAccounts<J, S, F>
where
    J: Job,
    S: Spokes,
    F: Fn(S::Ports) -> J + Send + Sync,
{
    pub fn new(spokes: S, config: OrgConfig, parser: J, build: F) -> Self {
        InAccounts {
            spokes,
            config,
            build,
            parser,
            jobs: Mutex::new(HashMap::new()),
            reported: Mutex::new(None),
            region: None,
        }
    }

    /// Serves events of `region` only (the hub's): an event from another region is refused.
    pub fn in_region(mut self, region: Option<String>) -> Self {
        self.region = region;
        self
    }

    fn cached(&self, account: &str) -> Option<Ready<J, S::Session>> {
        self.jobs.lock().ok()?.get(account).cloned()
    }

    fn drop_cached(&self, account: &str) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.remove(account);
        }
    }

    /// The job acting in `account`: cached, or built on the role assumed there; `Err(..)` of
    /// the report when the account cannot be reached.
    async fn job_in(
        &self,
        account: &str,
    ) -> Result<std::result::Result<(Arc<J>, Account), InAccount<J::Report>>> {
        let role_arn = self.config.role_in(account);
        if let Some((job, named, session)) = self.cached(account) {
            // No call while the credentials hold; a role deleted since is found on renewal.
            return match self.spokes.renew(&session).await? {
                None => Ok(Ok((job, named))),
                Some((code, message)) => {
                    self.drop_cached(account);
                    self.unreachable(account, role_arn, code, message).await
                }
            };
        }
        match self.spokes.open(account, &role_arn).await? {
            Opened::Ready(ports, named, session) => {
                self.tell_if_reachable_again(account).await;
                let job = Arc::new((self.build)(ports));
                if let Ok(mut jobs) = self.jobs.lock() {
                    jobs.insert(account.to_string(), (job.clone(), named.clone(), session));
                }
                Ok(Ok((job, named)))
            }
            Opened::Unreachable { code, message } => {
                self.unreachable(account, role_arn, code, message).await
            }
        }
    }

    /// The report of an account that cannot be reached, said once.
    async fn unreachable(
        &self,
        account: &str,
        role_arn: String,
        code: String,
        message: String,
    ) -> Result<std::result::Result<(Arc<J>, Account), InAccount<J::Report>>> {
        let notified = self.report_unreachable(account, &code, &message).await?;
        Ok(Err(InAccount {
            account: Account::new(account, None),
            result: None,
            unreachable: Some(Unreachable {
                role_arn,
                code,
                message,
                notified,
            }),
        }))
    }

    /// Says once that `account` cannot be reached: not again while the hub's topic remembers it
    /// for the same code. Returns whether it was said now.
    async fn report_unreachable(&self, account: &str, code: &str, message: &str) -> Result<bool> {
        let topic = &self.config.topic_arn;
        let reported = match self.spokes.reported(topic).await {
            Ok(reported) => reported,
            Err(e) => {
                tracing::warn!(error = %e, "the accounts already reported could not be read; reporting again");
                BTreeMap::new()
            }
        };
        let said = reported.get(account).map(String::as_str) == Some(code);
        let mut reported = reported;
        reported.insert(account.to_string(), code.to_string());
        if let Ok(mut known) = self.reported.lock() {
            *known = Some(reported);
        }
        if said {
            tracing::warn!(account, code, "account unreachable, reported already");
            return Ok(false);
        }
        let notice = notices::unreachable(J::NAME, account, &self.config, code, message);
        self.spokes.publish(topic, &notice).await?;
        if let Err(e) = self.spokes.remember(topic, account, code).await {
            tracing::warn!(account, error = %e, "could not remember that the account was reported");
        }
        Ok(true)
    }

    /// An account that had been reported unreachable is told reachable again, and forgotten,
    /// so that a new failure is reported again. Reads the reported accounts once per process.
    async fn tell_if_reachable_again(&self, account: &str) {
        let topic = &self.config.topic_arn;
        let known = self.reported.lock().ok().and_then(|known| known.clone());
        let reported = match known {
            Some(reported) => reported,
            None => {
                let read = self.spokes.reported(topic).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "the accounts reported unreachable could not be read");
                    BTreeMap::new()
                });
                if let Ok(mut known) = self.reported.lock() {
                    *known = Some(read.clone());
                }
                read
            }
        };
        if !reported.contains_key(account) {
            return;
        }
        let notice = notices::reachable_again(J::NAME, account, &self.config);
        let told = self.spokes.publish(topic, &notice).await;
        let forgot = self.spokes.forget(topic, account).await;
        match told.and(forgot) {
            Ok(()) => {
                if let Ok(mut known) = self.reported.lock() {
                    if let Some(reported) = known.as_mut() {
                        reported.remove(account);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(account, error = %e, "could not say the account is reachable again")
            }
        }
    }
}

/// Refuses an event from a region other than the hub's: the spoke roles are IAM's, one set per
/// account, so organization mode serves the hub's region only, and acting on another region's
/// event in the hub's would touch the wrong services.
pub fn check_region(event: &Value, hub: Option<&str>) -> Result<()> {
    match (event.get("region").and_then(Value::as_str), hub) {
        (Some(from), Some(hub)) if !from.is_empty() && from != hub => Err(Error::bad_event(format!(
            "region: {from} is not the hub's region {hub} (organization mode serves the hub's region only: install a hub in {from} for its accounts)"
        ))),
        _ => Ok(()),
    }
}

/// The account an event comes from: its top-level `account`.
pub fn account_of(event: &Value) -> Result<String> {
    match event.get("account") {
        Some(Value::String(id)) if is_account_id(id) => Ok(id.clone()),
        Some(other) => Err(Error::bad_event(format!(
            "account: must be a 12-digit AWS account id, got {other}"
        ))),
        None => Err(Error::bad_event(
            "account: missing (organization mode acts in the account an event comes from; an \
             alarm delivered through SNS names none: route alarms with the spoke's rule)",
        )),
    }
}

impl<J, S, F> Job for InAccounts<J, S, F>
where
    J: Job,
    J::Event: Sync,
    S: Spokes,
    F: Fn(S::Ports) -> J + Send + Sync,
{
    const NAME: &'static str = J::NAME;
    type Event = (String, J::Event);
    type Report = InAccount<J::Report>;

    fn parse(&self, event: Value) -> Result<Self::Event> {
        let account = account_of(&event)?;
        check_region(&event, self.region.as_deref())?;
        Ok((account, self.parser.parse(event)?))
    }

    async fn run(&self, (account, event): Self::Event) -> Result<Self::Report> {
        let (job, named) = match self.job_in(&account).await? {
            Ok(ready) => ready,
            Err(unreachable) => return Ok(unreachable),
        };
        let report = job.run(event).await?;
        Ok(InAccount {
            account: named,
            result: Some(report),
            unreachable: None,
        })
    }

    fn metrics(report: &Self::Report, metrics: Metrics) -> Metrics {
        match &report.result {
            Some(result) => J::metrics(result, metrics.in_account(report.account.short())),
            None => unreachable_metrics(metrics),
        }
    }

    fn calls(&self) -> &CallLog {
        self.spokes.calls()
    }
}

/// What an event from an account that could not be reached counts.
pub fn unreachable_metrics(metrics: Metrics) -> Metrics {
    metrics.count(&crate::metrics::catalogue::ACCOUNTS_UNREACHABLE, 1)
}

/// A function as it is installed: serving its own account, or the organization's.
pub enum Scoped<J, F> {
    Account(J),
    Organization(Box<InAccounts<J, Hub, F>>),
}

impl<J, F> Handler for Scoped<J, F>
where
    J: Job,
    J::Event: Sync,
    F: Fn(Clients) -> J + Send + Sync,
{
    async fn handle(&self, event: Value) -> Result<Value> {
        match self {
            Scoped::Account(job) => job.handle(event).await,
            Scoped::Organization(jobs) => jobs.handle(event).await,
        }
    }
}

/// The function for the environment it runs in: in organization mode (`SPOKE_ROLE_ARN` set)
/// each event's job is built on the clients of the account it comes from; else one job on the
/// function's own clients.
pub fn scoped<J, F>(sdk: &SdkConfig, build: F) -> Result<Scoped<J, F>>
where
    J: Job,
    F: Fn(Clients) -> J + Send + Sync,
{
    let clients = Clients::new(sdk);
    Ok(match OrgConfig::from_env()? {
        None => Scoped::Account(build(clients)),
        Some(config) => Scoped::Organization(Box::new(organization(clients, sdk, config, build))),
    })
}

/// A hub's function: `build` makes the job of each member account from the clients acting
/// there, derived from the hub's `clients` and `sdk`.
pub fn organization<J, F>(
    clients: Clients,
    sdk: &SdkConfig,
    config: OrgConfig,
    build: F,
) -> InAccounts<J, Hub, F>
where
    J: Job,
    F: Fn(Clients) -> J + Send + Sync,
{
    let parser = build(clients.clone());
    let hub = Hub {
        clients,
        sdk: sdk.clone(),
        session_name: crate::aws::sts::session_name(&crate::metrics::function_dimension(J::NAME)),
    };
    let region = sdk.region().map(|r| r.as_ref().to_string());
    InAccounts::new(hub, config, parser, build).in_region(region)
}
