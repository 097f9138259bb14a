//! off-hours: services sleep (zero tasks, auto scaling pinned to 0..0 with its scaling
//! suspended, alarm actions off) outside working hours and wake exactly as they were.
//!
//! Level-triggered: every tick reconciles each selected service toward what the calendar wants,
//! so a missed or failed tick heals on the next, and a tick in the same state makes no mutating
//! call. What must be restored lives in the service's tags, written before anything changes.

pub mod calendar;
pub mod config;
/// off-hours' chat notification (public for the core's benchmarks).
pub mod notices;
pub mod plan;
pub mod ports;
pub mod pricing;

use std::collections::{BTreeMap, BTreeSet};

use crate::model::service::ServiceSnapshot;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};

use crate::aws::{CallLog, Clients};
use crate::capacity;
use crate::error::{Error, Failure, Result};
use crate::metrics::Metrics;
use crate::model::alarm::ServiceAlarm;
use crate::model::price::TaskSize;
use crate::model::scaling::{resource_id, ScalableTarget};
use crate::runtime::Job;
use crate::tag_problems::TagProblem;
use crate::tags::{
    ASLEEP_SINCE, MUTED_BY, OFF_HOURS_HOLIDAYS, OFF_HOURS_ON, OFF_HOURS_SCHEDULE_PROBLEM,
    OFF_HOURS_TAG_PROBLEM, OFF_HOURS_TIMEZONE, RESTORE, SLEEP_STARTED_AT,
};
pub use config::{OffHoursConfig, Selected, ServiceRef, TagSelection};
pub use plan::{plan, Action, Mode, Planned};
pub use ports::OffHoursPorts;

/// What the invocation returns: the tick's mode and what it did to each service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TickReport {
    pub mode: Mode,
    pub now: String,
    pub services: Vec<Planned>,
    #[serde(rename = "estimatedSavings", skip_serializing_if = "Option::is_none")]
    pub estimated_savings: Option<f64>,
    /// What each service put to sleep by this tick saves (`<cluster>/<service>`, dollars, not
    /// rounded): its metrics' breakdown.
    #[serde(
        rename = "savingsByService",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub savings_by_service: BTreeMap<String, f64>,
    /// What the estimate was priced on ([`pricing::basis`]).
    #[serde(rename = "priceBasis", skip_serializing_if = "Vec::is_empty")]
    pub price_basis: Vec<String>,
    #[serde(rename = "notificationId", skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
    /// The notification that could not be published: the transitions stand (the next tick
    /// does not redo them, so it will not say them either); this and the log are what is left.
    #[serde(rename = "notificationError", skip_serializing_if = "Option::is_none")]
    pub notification_error: Option<String>,
    /// Services carrying the selection tag with a value off-hours cannot read (left awake),
    /// each said once in its thread.
    #[serde(rename = "tagProblems", skip_serializing_if = "Vec::is_empty")]
    pub tag_problems: Vec<TagProblem>,
}

/// The alarms of a service that off-hours may mute and tag: never one that drives auto
/// scaling (its actions are scaling policies: the alarms target tracking creates, a step
/// policy's), which the 0..0 bounds already hold and which belong to Application Auto Scaling;
/// and, with `prefix` (the stack scope, whose role may touch only the stack's alarms), only
/// those whose name starts with it. Pure.
pub fn alarms_to_touch<'a>(
    alarms: &'a [ServiceAlarm],
    prefix: Option<&str>,
) -> Vec<&'a ServiceAlarm> {
    alarms
        .iter()
        .filter(|a| !a.drives_scaling())
        .filter(|a| prefix.is_none_or(|p| a.name.starts_with(p)))
        .collect()
}

/// The tick's time: the scheduled event's `time`, else the clock.
pub fn tick_time(event: &Value) -> Result<DateTime<Utc>> {
    crate::events::scheduled_time(event)
}

/// Whether no deployment is replacing another: one deployment, and not rolling out.
/// The off-hours function; built once per process.
pub struct OffHours<P = Clients> {
    /// The AWS side: [`Clients`] in Lambda, an in-memory fake in the core's tests.
    pub clients: P,
    pub config: OffHoursConfig,
    /// Fargate's prices by region, read once for the life of the process (from the Price List,
    /// or the compiled-in ones when it could not be read).
    prices: std::sync::Mutex<BTreeMap<String, pricing::Priced>>,
}

impl<P: OffHoursPorts> OffHours<P> {
    pub fn new(clients: P, config: OffHoursConfig) -> Self {
        OffHours {
            clients,
            config,
            prices: Default::default(),
        }
    }

    async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport> {
        let mode = Mode::of(&self.config.calendar, now);
        let (states, mut failed, mut problems) = self.discover().await;
        // Each service on its own calendar: the install's, or what its schedule tags say. A
        // service whose schedule tags cannot be used stays as it is, and the tag is reported.
        let mut own_calendars: BTreeMap<String, calendar::Calendar> = BTreeMap::new();
        let mut planned: Vec<(ServiceSnapshot, Planned)> = states
            .into_iter()
            .map(|service| {
                let decided = match self.config.calendar.for_service(&service.tags) {
                    Ok(None) => plan(mode, now, &service),
                    Ok(Some(own)) => {
                        let decided = plan(Mode::of(&own, now), now, &service);
                        own_calendars.insert(service.arn.clone(), own);
                        decided
                    }
                    Err(bad) => {
                        problems.extend(schedule_problems(&service, &bad));
                        plan::left_as_it_is(&service, &bad)
                    }
                };
                (service, decided)
            })
            .collect();
        tracing::info!(mode = ?mode, plan = %json!(planned.iter().map(|(_, p)| p).collect::<Vec<_>>()), "off-hours plan");

        let transitions = planned
            .iter()
            .any(|(_, p)| matches!(p.action, Action::Sleep | Action::Wake));
        // Everything the plan needs is read before anything changes: the bounds of the
        // services about to sleep, then their tasks' sizes and prices for the savings.
        if transitions {
            let targets = self.read_capacity(&planned).await;
            plan::with_capacity(&mut planned, targets.as_ref());
        }
        let sizes = if planned.iter().any(|(_, p)| p.action == Action::Sleep) {
            Some(self.task_sizes(&planned).await)
        } else {
            None
        };
        // And the prices of their regions (the Price List, once per region and process).
        let prices = match &sizes {
            Some(_) => self.region_prices(&planned).await,
            None => BTreeMap::new(),
        };
        if transitions && !self.config.dry_run {
            let alarms = self.clients.alarms_by_service().await;
            // Services transition side by side, at most `concurrency` at a time (each one's
            // steps stay in order): a fleet's night takes the time of its slowest services,
            // not the sum of all.
            let mut work = Vec::new();
            for (index, (service, decided)) in planned.iter().enumerate() {
                if !matches!(decided.action, Action::Sleep | Action::Wake) {
                    continue;
                }
                let its_alarms = alarms
                    .as_ref()
                    .ok()
                    .and_then(|by_service| {
                        by_service.get(&(service.cluster.clone(), service.name.clone()))
                    })
                    .cloned()
                    .unwrap_or_default();
                work.push(async move {
                    let done = match decided.action {
                        Action::Sleep => self.sleep(now, service, decided, &its_alarms).await,
                        _ => self.wake(service, decided, &its_alarms).await,
                    };
                    (index, done)
                });
            }
            let outcomes: Vec<(usize, Result<()>)> = futures_util::stream::iter(work)
                .buffer_unordered(self.config.concurrency.max(1))
                .collect()
                .await;
            for (index, done) in outcomes {
                let (service, decided) = &mut planned[index];
                if let Err(error) = done {
                    tracing::error!(error = ?error, service = %service.arn, "service failed; the next tick retries it");
                    // Only the verb is lowered: the AWS error keeps its code's case.
                    let verb = if decided.action == Action::Wake {
                        "wake"
                    } else {
                        "sleep"
                    };
                    decided.reason = format!("{verb} failed, retried next tick: {error}");
                    decided.action = Action::Error;
                    decided.error = Some(Failure::from(&error));
                }
            }
            if let Err(e) = &alarms {
                tracing::warn!(error = ?e, "alarms could not be listed: their actions were not changed");
            }
        }
        // Counted over the services that did go to sleep, each at its region's prices, each
        // until its own calendar wakes it.
        let mut price_basis = vec![];
        let mut by_service = BTreeMap::new();
        let savings = match sizes.filter(|_| planned.iter().any(|(_, p)| p.action == Action::Sleep))
        {
            None => None,
            Some(sizes) => {
                // Fargate bills by the second: the hours asleep are a fraction.
                let hours = |s: &ServiceSnapshot| {
                    own_calendars
                        .get(&s.arn)
                        .unwrap_or(&self.config.calendar)
                        .next_start(now)
                        .map(|t| (t - now).num_seconds() as f64 / 3600.0)
                        .unwrap_or(0.0)
                };
                price_basis = pricing::basis(
                    planned
                        .iter()
                        .filter(|(_, p)| p.action == Action::Sleep)
                        .filter_map(|(s, p)| {
                            let size = sizes.get(&s.task_definition).copied()?;
                            Some((s, p.restore?.desired, size))
                        }),
                    &prices,
                );
                by_service = plan::savings_by_service(&planned, &sizes, hours, &prices);
                Some(plan::in_cents(&by_service))
            }
        };
        let mut services: Vec<Planned> = planned.into_iter().map(|(_, p)| p).collect();
        services.append(&mut failed);
        let mut report = TickReport {
            mode,
            now: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            services,
            estimated_savings: savings,
            savings_by_service: by_service,
            price_basis,
            notification_id: None,
            notification_error: None,
            tag_problems: vec![],
        };
        // The first tick after a boundary of any calendar in use.
        let tick = chrono::Duration::minutes(i64::from(self.config.tick_minutes));
        let boundary = std::iter::once(&self.config.calendar)
            .chain(own_calendars.values())
            .any(|c| c.first_tick_after_boundary(now, tick));
        // A dry run remembers nothing, so it says a bad tag on the first tick after a boundary.
        if !problems.is_empty() && (!self.config.dry_run || boundary) {
            let reported = crate::tag_problems::say_once(
                &self.clients,
                &self.config.topic_arn,
                "off-hours",
                |p| {
                    if SCHEDULE_TAGS.contains(&p.tag.as_str()) {
                        OFF_HOURS_SCHEDULE_PROBLEM
                    } else {
                        OFF_HOURS_TAG_PROBLEM
                    }
                },
                self.config.dry_run,
                &problems,
                |p| {
                    if SCHEDULE_TAGS.contains(&p.tag.as_str()) {
                        "off-hours leaves the service as it is, awake or asleep, until the tag is fixed.".into()
                    } else {
                        "off-hours leaves the service awake at night until the tag is fixed.".into()
                    }
                },
            )
            .await;
            // Not remembered: the next tick says it again.
            if let Err(e) = reported {
                tracing::warn!(error = ?e, "a tag problem could not be reported");
            }
        }
        report.tag_problems = problems;
        if announce(&report.services, self.config.dry_run, boundary) {
            let notice =
                notices::transition(&report, &self.config.calendar, now, self.config.dry_run);
            match self.clients.publish(&self.config.topic_arn, &notice).await {
                Ok(_) => report.notification_id = Some(notice.id),
                // Failing the tick would not bring the message back (the retry finds nothing
                // left to do); the transitions stand, and what was not said is reported here.
                Err(error) => {
                    tracing::error!(error = ?error, notification = %notice.id, summary = %notice.summary, "the transition notification could not be published");
                    report.notification_error = Some(format!("{}: {error}", notice.summary));
                }
            }
        }
        Ok(report)
    }

    /// The selected services, with one DescribeServices per 10 (and, for tag selection, one
    /// ListServices per 100). Services that cannot be read are returned as errors; services
    /// whose selection tag holds a value off-hours cannot read, as tag problems.
    async fn discover(&self) -> (Vec<ServiceSnapshot>, Vec<Planned>, Vec<TagProblem>) {
        let mut failed = vec![];
        let mut problems = vec![];
        let mut by_cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in &self.config.targets {
            by_cluster
                .entry(t.cluster.clone())
                .or_default()
                .push(t.service.clone());
        }
        let mut states: Vec<ServiceSnapshot> = vec![];
        let mut seen = BTreeSet::new();
        for (cluster, names) in &by_cluster {
            match self.clients.services(cluster, names).await {
                Ok(found) => {
                    for name in names {
                        match found.iter().find(|s| &s.name == name) {
                            Some(s) if seen.insert(s.arn.clone()) => states.push(s.clone()),
                            Some(_) => {}
                            None => failed.push(error_entry(
                                cluster,
                                name,
                                "the service does not exist: check TARGETS".into(),
                                Failure {
                                    code: "ServiceNotFoundException".into(),
                                    retryable: false,
                                },
                            )),
                        }
                    }
                }
                Err(e) => failed.extend(
                    names
                        .iter()
                        .map(|n| error_entry(cluster, n, e.to_string(), Failure::from(&e))),
                ),
            }
        }
        if let Some(sel) = self
            .config
            .selection
            .as_ref()
            .filter(|s| s.clusters.is_empty())
        {
            // Every cluster of the account: the services carrying the key, whatever its value
            // (GetResources matches values exactly: `Enabled` would never come back), come
            // with their ARNs, grouped by cluster for DescribeServices; the value is read here.
            match self.clients.tagged_services(&sel.key, &[]).await {
                Ok(found) => {
                    let mut by_cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
                    for s in found.iter().filter(|s| !seen.contains(&s.arn)) {
                        if let Some(p) = selection_problem(sel, &s.arn, &s.tags) {
                            problems.push(p);
                            continue;
                        }
                        let yes = s
                            .tags
                            .get(&sel.key)
                            .is_some_and(|v| sel.selects(v) == Selected::Yes);
                        if !yes {
                            continue;
                        }
                        if let Some((cluster, name)) =
                            crate::model::arn::Arn::parse(&s.arn).and_then(|a| a.ecs_service())
                        {
                            by_cluster
                                .entry(cluster.to_string())
                                .or_default()
                                .push(name.to_string());
                        }
                    }
                    for (cluster, names) in by_cluster {
                        match self.clients.services(&cluster, &names).await {
                            Ok(read) => {
                                for s in read {
                                    let yes = s
                                        .tags
                                        .get(&sel.key)
                                        .is_some_and(|v| sel.selects(v) == Selected::Yes);
                                    if yes && seen.insert(s.arn.clone()) {
                                        states.push(s);
                                    }
                                }
                            }
                            Err(e) => failed.push(error_entry(
                                &cluster,
                                "*",
                                e.to_string(),
                                Failure::from(&e),
                            )),
                        }
                    }
                }
                Err(e) => failed.push(error_entry("*", "*", e.to_string(), Failure::from(&e))),
            }
        }
        if let Some(sel) = &self.config.selection {
            for cluster in &sel.clusters {
                let arns = match self.clients.service_arns(cluster).await {
                    Ok(arns) => arns,
                    Err(e) => {
                        failed.push(error_entry(cluster, "*", e.to_string(), Failure::from(&e)));
                        continue;
                    }
                };
                let fresh: Vec<String> = arns.into_iter().filter(|a| !seen.contains(a)).collect();
                match self.clients.services(cluster, &fresh).await {
                    Ok(found) => {
                        for s in found {
                            if let Some(p) = selection_problem(sel, &s.arn, &s.tags) {
                                problems.push(p);
                                continue;
                            }
                            let yes = s
                                .tags
                                .get(&sel.key)
                                .is_some_and(|v| sel.selects(v) == Selected::Yes);
                            if yes && seen.insert(s.arn.clone()) {
                                states.push(s);
                            }
                        }
                    }
                    Err(e) => {
                        failed.push(error_entry(cluster, "*", e.to_string(), Failure::from(&e)))
                    }
                }
            }
        }
        (states, failed, problems)
    }

    /// The auto scaling bounds of the services about to sleep (not those resuming: their record
    /// is the truth), 50 per DescribeScalableTargets.
    async fn read_capacity(
        &self,
        planned: &[(ServiceSnapshot, Planned)],
    ) -> Result<BTreeMap<String, ScalableTarget>> {
        let wanted: Vec<String> = planned
            .iter()
            .filter(|(_, p)| p.action == Action::Sleep && !p.resume)
            .map(|(s, _)| resource_id(&s.cluster, &s.name))
            .collect();
        self.clients.scalable_targets(&wanted).await
    }

    /// What a task of each revision the services about to sleep run is billed for (vCPU, GB,
    /// architecture, ephemeral storage): one DescribeTaskDefinition per revision; a revision
    /// that cannot be read counts as nothing.
    async fn task_sizes(
        &self,
        planned: &[(ServiceSnapshot, Planned)],
    ) -> BTreeMap<String, TaskSize> {
        let mut sizes: BTreeMap<String, TaskSize> = BTreeMap::new();
        for (s, p) in planned {
            if p.action != Action::Sleep || p.restore.is_none() {
                continue;
            }
            if sizes.contains_key(&s.task_definition) {
                continue;
            }
            let size = match self.clients.task_size(&s.task_definition).await {
                Ok(size) => size,
                Err(e) => {
                    tracing::warn!(error = ?e, "task size unknown: no saving counted for it");
                    TaskSize::default()
                }
            };
            sizes.insert(s.task_definition.clone(), size);
        }
        sizes
    }

    /// Fargate's prices in each region where services are going to sleep: one Price List read
    /// per region for the life of the process. A region whose prices cannot be read gets the
    /// compiled-in ones, for the life of the process too (a tick does not wait on an
    /// unreachable Price List again), and the notification says so.
    async fn region_prices(
        &self,
        planned: &[(ServiceSnapshot, Planned)],
    ) -> BTreeMap<String, pricing::Priced> {
        let regions: BTreeSet<&str> = planned
            .iter()
            .filter(|(_, p)| p.action == Action::Sleep)
            .map(|(s, _)| pricing::region_of(s))
            .collect();
        let known = |region: &str| {
            let cache = match self.prices.lock() {
                Ok(c) => c,
                Err(poisoned) => poisoned.into_inner(),
            };
            cache.get(region).cloned()
        };
        let mut out = BTreeMap::new();
        for region in regions {
            let priced = match known(region) {
                Some(p) => p,
                None => {
                    let priced = match self.clients.fargate_prices(region).await {
                        Ok(prices) => pricing::Priced::listed(prices),
                        Err(e) => {
                            tracing::warn!(error = ?e, region, "the Price List could not be read: compiled-in prices are used");
                            pricing::Priced::compiled_in(region)
                        }
                    };
                    match self.prices.lock() {
                        Ok(mut c) => c.insert(region.to_string(), priced.clone()),
                        Err(poisoned) => poisoned
                            .into_inner()
                            .insert(region.to_string(), priced.clone()),
                    };
                    priced
                }
            };
            out.insert(region.to_string(), priced);
        }
        out
    }

    /// Record, silence the alarms, pin auto scaling to 0..0 with its scaling suspended, zero
    /// tasks, and only then mark the service asleep (`autopilot:asleep-since`, which keeps the
    /// alarm-notifier quiet): a step that fails leaves a running service unmarked, and the
    /// record (`autopilot:restore` with `autopilot:sleep-started-at`) lets the next tick finish
    /// the sleep, or undo it in the morning. Each step is idempotent.
    async fn sleep(
        &self,
        now: DateTime<Utc>,
        s: &ServiceSnapshot,
        p: &Planned,
        alarms: &[ServiceAlarm],
    ) -> Result<()> {
        let restore = p
            .restore
            .ok_or_else(|| Error::invariant("a sleep without the capacity to record"))?;
        let alarms = alarms_to_touch(alarms, self.config.alarm_prefix.as_deref());
        let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        // When the sleep began: the record's own time when resuming.
        let since = s
            .tags
            .get(SLEEP_STARTED_AT)
            .or_else(|| s.tags.get(ASLEEP_SINCE))
            .cloned()
            .unwrap_or(stamp);
        // Resuming, the record is on the service already (and the plan read it). Otherwise the
        // record written is the one the scale-down follows: a readable record already on the
        // service (a crash loop's) is kept, and it holds no suspended state to go back to, so
        // scaling is not suspended for it either (the wake could not resume it).
        let recorded = if p.resume {
            restore
        } else {
            // An awake service's alarm that is off was turned off by a person: a mark left by a
            // wake that died before removing it must not make the next wake turn it on.
            for a in alarms.iter().filter(|a| !a.actions_enabled) {
                self.clients.untag_alarm(&a.arn, &[MUTED_BY]).await?;
            }
            capacity::record(
                &self.clients,
                s,
                restore,
                &[(SLEEP_STARTED_AT, since.clone())],
            )
            .await?
        };
        // Only the alarms that are on are muted, each marked first: an alarm a person turned
        // off stays theirs, and a tick that dies here leaves nothing muted unmarked.
        let on: Vec<&ServiceAlarm> = alarms.into_iter().filter(|a| a.actions_enabled).collect();
        let mark = BTreeMap::from([(MUTED_BY.to_string(), "off-hours".to_string())]);
        for a in &on {
            self.clients.tag_alarm(&a.arn, &mark).await?;
        }
        let names: Vec<String> = on.iter().map(|a| a.name.clone()).collect();
        self.clients.set_alarm_actions(&names, false).await?;
        capacity::to_zero(&self.clients, s, recorded).await?;
        if !s.tags.contains_key(ASLEEP_SINCE) {
            let asleep = BTreeMap::from([(ASLEEP_SINCE.to_string(), since)]);
            self.clients.tag_service(&s.arn, &asleep).await?;
        }
        Ok(())
    }

    /// The sleep mark goes first (from then on the service's alarms page again: one that
    /// fails to wake is not running in on-hours, which is worth a page), then the alarms
    /// off-hours muted come back on, the bounds, suspended state and desired count are
    /// restored exactly, and the record goes last, so a wake that dies half-way is finished
    /// by the next tick.
    async fn wake(&self, s: &ServiceSnapshot, p: &Planned, alarms: &[ServiceAlarm]) -> Result<()> {
        let restore = p
            .restore
            .ok_or_else(|| Error::invariant("a wake without a restore record"))?;
        if let Some(since) = s.tags.get(ASLEEP_SINCE) {
            // A record from before `autopilot:sleep-started-at`: it gets one, so the record
            // stays off-hours' once the sleep mark is gone.
            if !s.tags.contains_key(SLEEP_STARTED_AT) {
                let started = BTreeMap::from([(SLEEP_STARTED_AT.to_string(), since.clone())]);
                self.clients.tag_service(&s.arn, &started).await?;
            }
            self.clients.untag_service(&s.arn, &[ASLEEP_SINCE]).await?;
        }
        let mut muted = vec![];
        for a in alarms_to_touch(alarms, self.config.alarm_prefix.as_deref())
            .into_iter()
            .filter(|a| !a.actions_enabled)
        {
            let tags = self.clients.alarm_tags(&a.arn).await?;
            if tags.get(MUTED_BY).map(String::as_str) == Some("off-hours") {
                muted.push(a);
            }
        }
        let names: Vec<String> = muted.iter().map(|a| a.name.clone()).collect();
        self.clients.set_alarm_actions(&names, true).await?;
        for a in &muted {
            self.clients.untag_alarm(&a.arn, &[MUTED_BY]).await?;
        }
        capacity::restore(&self.clients, s, restore).await?;
        self.clients
            .untag_service(&s.arn, &[RESTORE, SLEEP_STARTED_AT])
            .await?;
        Ok(())
    }
}

/// Whether a tick is announced. A real transition is said when it happens (it happens once); a
/// failure that the next tick may get past, every tick it lasts. What every tick would say
/// again is said on the first tick after a calendar boundary only: a dry run's would-be
/// transition (a dry run changes nothing, so every tick plans it again), and a failure that
/// needs a person (a damaged restore tag, a short ARN, a missing service).
pub fn announce(services: &[Planned], dry_run: bool, first_after_boundary: bool) -> bool {
    let transition = services
        .iter()
        .any(|p| matches!(p.action, Action::Sleep | Action::Wake));
    let passing = services
        .iter()
        .any(|p| p.action == Action::Error && p.error.as_ref().is_none_or(|e| e.retryable));
    let lasting = services.iter().any(|p| p.action == Action::Error);
    if dry_run {
        return first_after_boundary && (transition || lasting);
    }
    transition || passing || (first_after_boundary && lasting)
}

/// What is wrong with a service's selection tag, if anything: its value is not one off-hours
/// can read (see [`TagSelection::selects`]). `reported` is read from
/// `autopilot:off-hours-tag-problem`.
fn selection_problem(
    sel: &TagSelection,
    arn: &str,
    tags: &BTreeMap<String, String>,
) -> Option<TagProblem> {
    let value = tags.get(&sel.key)?;
    if sel.selects(value) != Selected::Bad {
        return None;
    }
    let mut p = TagProblem {
        service_arn: arn.to_string(),
        tag: sel.key.clone(),
        value: value.clone(),
        problem: format!(
            "must be {} (any case) to put the service to sleep outside on-hours, or the tag removed",
            sel.value
        ),
        reported: false,
    };
    p.reported = tags.get(OFF_HOURS_TAG_PROBLEM) == Some(&p.fingerprint());
    Some(p)
}

/// A service's own schedule tags.
const SCHEDULE_TAGS: [&str; 3] = [OFF_HOURS_ON, OFF_HOURS_TIMEZONE, OFF_HOURS_HOLIDAYS];

/// What is wrong with a service's schedule tags, as tag problems; `reported` is read from
/// `autopilot:off-hours-schedule-problem`.
fn schedule_problems(
    service: &ServiceSnapshot,
    bad: &[calendar::BadScheduleTag],
) -> Vec<TagProblem> {
    bad.iter()
        .map(|b| {
            let mut p = TagProblem {
                service_arn: service.arn.clone(),
                tag: b.tag.to_string(),
                value: b.value.clone(),
                problem: b.problem.clone(),
                reported: false,
            };
            p.reported = service.tags.get(OFF_HOURS_SCHEDULE_PROBLEM) == Some(&p.fingerprint());
            p
        })
        .collect()
}

fn error_entry(cluster: &str, service: &str, reason: String, error: Failure) -> Planned {
    Planned {
        cluster: cluster.to_string(),
        service: service.to_string(),
        action: Action::Error,
        reason,
        restore: None,
        resume: false,
        error: Some(error),
    }
}

impl<P: OffHoursPorts> Job for OffHours<P> {
    const NAME: &'static str = "off-hours";
    /// The tick's time.
    type Event = DateTime<Utc>;
    type Report = TickReport;

    fn parse(&self, event: Value) -> Result<DateTime<Utc>> {
        tick_time(&event)
    }

    async fn run(&self, now: DateTime<Utc>) -> Result<TickReport> {
        self.tick(now).await
    }

    fn metrics(report: &TickReport, metrics: Metrics) -> Metrics {
        let count = |action: Action| {
            report
                .services
                .iter()
                .filter(|p| p.action == action)
                .count()
        };
        use crate::metrics::catalogue;
        // Asleep after this tick: put to sleep now, or found asleep (left as it is, with the
        // capacity its record holds); each counts once under its own Service too, so a week's
        // sum times the tick's quarter hour is its service-hours asleep.
        let asleep: Vec<String> = report
            .services
            .iter()
            .filter(|p| {
                p.action == Action::Sleep || (p.action == Action::None && p.restore.is_some())
            })
            .map(|p| format!("{}/{}", p.cluster, p.service))
            .collect();
        let metrics = asleep.iter().fold(metrics, |m, service| {
            m.count_by(&catalogue::SERVICES_ASLEEP, service, 1)
        });
        let metrics = report
            .savings_by_service
            .iter()
            .fold(metrics, |m, (service, saved)| {
                m.amount_by(&catalogue::ESTIMATED_SAVINGS_USD, service, *saved)
            });
        metrics
            .count(&catalogue::SERVICES, report.services.len())
            .count(&catalogue::SLEPT, count(Action::Sleep))
            .count(&catalogue::WOKE, count(Action::Wake))
            .count(&catalogue::SKIPPED, count(Action::Skip))
            .count(&catalogue::ERRORS, count(Action::Error))
            // Both emitted on every tick, 0 when nothing is asleep or saved.
            .count(&catalogue::SERVICES_ASLEEP, 0)
            .amount(&catalogue::ESTIMATED_SAVINGS_USD, 0.0)
    }

    fn calls(&self) -> &CallLog {
        self.clients.calls()
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod flow_tests;

#[cfg(test)]
mod fake;
