//! An image push (`ECR Image Action`): the targets it concerns (DEPLOY_TARGETS and, in fleet
//! mode, the services whose tags name the repository), the state the decision needs, the plan
//! ([`plan::plan_push`]), the deploys side by side, the notices.

use std::collections::BTreeMap;

use futures_util::{stream, StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::json;

use super::plan::{self, Action, Decision, Live, LiveTaskDefinition, PushPlan, Reason, Step};
use super::{fleet, notices, DeployPorts, DeployTarget, Deployer, Strategy, REGISTER_ATTEMPTS};
use crate::aws::ecs;
use crate::error::{Error, Result};
use crate::events::{EcrImageAction, Event};
use crate::model::revision::revision_number;
use crate::model::service::ServiceSnapshot;
use crate::tag_problems::TagProblem;
use crate::tags;

/// What a push's invocation returns: the decision for each service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PushReport {
    pub decisions: Vec<Decision>,
    /// Services whose `autopilot:` tags are wrong: left out until fixed.
    #[serde(rename = "tagProblems", skip_serializing_if = "Vec::is_empty")]
    pub tag_problems: Vec<TagProblem>,
}

impl<P: DeployPorts> Deployer<P> {
    pub(super) async fn on_push(&self, push: Event<EcrImageAction>) -> Result<PushReport> {
        let (targets, problems) = self.targets_for(&push).await?;
        let targets = &targets[..];
        let needed = plan::targets_needing_state(&push, targets);
        let (live, raw) = self.read_state(targets, &needed).await?;
        let mut plan = plan::plan_push(
            &push,
            targets,
            &live,
            self.config.dry_run,
            chrono::Utc::now(),
        );
        tracing::info!(plan = %json!(plan), "push plan");

        // The targets deploy side by side, at most FAN_OUT at a time (each one's steps in
        // order); their outcomes are then recorded one by one, in the plan's order.
        // Owned items (indices), so the futures borrow only what outlives them.
        let steps: Vec<(usize, usize, Step)> = if self.config.dry_run {
            vec![]
        } else {
            plan.planned
                .iter()
                .enumerate()
                .filter_map(|(at, planned)| Some((at, planned.target?, planned.step.clone()?)))
                .collect()
        };
        // Targets that share a base revision register one copy: the first registers, the
        // others wait for it and find it by the event's id (`register_once`), then every
        // service is updated side by side.
        let registering: BTreeMap<String, futures_util::lock::Mutex<()>> = steps
            .iter()
            .filter_map(|(_, _, step)| match step {
                Step::PinDigest { base, .. } => Some((base.clone(), Default::default())),
                Step::FollowTag { .. } => None,
            })
            .collect();
        let (raw, registering) = (&raw, &registering);
        let mut done: Vec<(usize, usize, Result<Option<String>>)> = stream::iter(steps)
            .map(|(at, target, step)| async move {
                let done = self.apply(&targets[target], &step, raw, registering).await;
                (at, target, done)
            })
            .buffer_unordered(crate::aws::FAN_OUT)
            .collect()
            .await;
        done.sort_by_key(|(at, _, _)| *at);
        let mut first_error = None;
        for (at, target, result) in done {
            let decision = &mut plan.planned[at].decision;
            let target = &targets[target];
            match result {
                Ok(arn) => decision.task_definition_arn = arn,
                Err(error) => {
                    tracing::error!(error = ?error, cluster = %target.cluster, service = %target.service, "deploy failed");
                    let notice = notices::deploy_error(&push, target, &error);
                    if let Err(not_published) =
                        self.clients.publish(&self.config.topic_arn, &notice).await
                    {
                        tracing::error!(error = ?not_published, "could not publish the failure notification");
                    }
                    // This target's outcome; the others go on.
                    decision.action = Action::Skip;
                    decision.reason = Reason::DeployFailed;
                    decision.detail = format!("{}; it failed: {error}", decision.detail);
                    // A service deleted since it was read is this target's final outcome; any
                    // other failure fails the invocation once the others are done.
                    if !error.is_not_found() {
                        first_error.get_or_insert(error);
                    }
                }
            }
        }
        // The others' deploys are announced whatever happened to one; a failure then fails the
        // invocation (a retryable one comes again, and the others are already running then).
        self.notify_push(&push, targets, &plan).await?;
        let repository = &push.detail.repository_name;
        crate::tag_problems::say_once(
            &self.clients,
            &self.config.topic_arn,
            "deployer",
            |_| tags::TAG_PROBLEM,
            self.config.dry_run,
            &problems,
            |_| format!("Pushes of {repository} leave the service out until the tag is fixed; the other services deploy."),
        )
        .await?;
        if let Some(error) = first_error {
            return Err(error);
        }

        Ok(PushReport {
            decisions: plan
                .planned
                .into_iter()
                .map(|planned| planned.decision)
                .collect(),
            tag_problems: problems,
        })
    }

    /// The targets of a push: `DEPLOY_TARGETS`, and in fleet mode the services whose
    /// `autopilot:deploy` tag names the pushed repository. They are found by the tag's key
    /// alone (one GetResources page per 100 services carrying it, whatever their value and
    /// however many other services the account has), and the value is checked here: filtering
    /// on the exact value would never return a value that is no repository name (`Web`,
    /// `web:latest`, a registry URI), and such a service would silently never deploy. A
    /// service named in both is `DEPLOY_TARGETS`'s: the installer's configuration wins over
    /// the service's tags. Services whose tags are wrong come back as problems (a bad
    /// `autopilot:deploy` value on any push, as it names no repository; the other tags on a
    /// push of the service's repository), and the others deploy.
    async fn targets_for(
        &self,
        push: &Event<EcrImageAction>,
    ) -> Result<(Vec<DeployTarget>, Vec<TagProblem>)> {
        let mut targets = self.config.targets.clone();
        let mut problems = vec![];
        if !self.config.fleet || !push.detail.is_successful_push() {
            return Ok((targets, problems));
        }
        let repository = push.detail.repository_name.as_str();
        let found = self.clients.tagged_services(tags::DEPLOY, &[]).await?;
        for s in found {
            if !fleet::follows(&s.tags, repository) {
                continue;
            }
            match fleet::target_from_tags(&s.arn, &s.tags) {
                Ok(t) => {
                    let configured = targets.iter().any(|c| {
                        c.repository == t.repository
                            && c.cluster_name() == t.cluster_name()
                            && c.service == t.service
                    });
                    if configured {
                        tracing::info!(service = %s.arn, "in DEPLOY_TARGETS too: its entry there wins over its tags");
                    } else {
                        targets.push(t);
                    }
                }
                Err(mut p) => {
                    // Remembered on the service once said: `reported` tells the result whether
                    // chat heard of it before.
                    p.reported = s.tags.get(tags::TAG_PROBLEM) == Some(&p.fingerprint());
                    problems.push(p);
                }
            }
        }
        Ok((targets, problems))
    }

    /// Reads the services (one DescribeServices per cluster and 10 services) and, for
    /// pin-digest targets, their live task definitions (one DescribeTaskDefinition each): the
    /// clusters side by side, then the revisions, at most [`FAN_OUT`](crate::aws::FAN_OUT) calls
    /// at a time.
    async fn read_state(
        &self,
        targets: &[DeployTarget],
        needed: &[usize],
    ) -> Result<(BTreeMap<usize, Live>, BTreeMap<String, ecs::Revision>)> {
        let mut by_cluster: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for &i in needed {
            let names = by_cluster.entry(targets[i].cluster.clone()).or_default();
            if !names.contains(&targets[i].service) {
                names.push(targets[i].service.clone());
            }
        }
        let read: Vec<(String, Vec<ServiceSnapshot>)> = stream::iter(by_cluster)
            .map(|(cluster, names)| async move {
                let found = self.clients.services(&cluster, &names).await?;
                Ok::<_, Error>((cluster, found))
            })
            .buffer_unordered(crate::aws::FAN_OUT)
            .try_collect()
            .await?;
        let mut services = BTreeMap::new();
        for (cluster, found) in read {
            for s in found {
                services.insert((cluster.clone(), s.name.clone()), s);
            }
        }
        let live_service = |i: usize| {
            let t = &targets[i];
            services
                .get(&(t.cluster.clone(), t.service.clone()))
                .filter(|s| s.status == "ACTIVE" && !s.task_definition.is_empty())
        };
        let mut wanted: Vec<String> = needed
            .iter()
            .filter(|&&i| targets[i].strategy == Strategy::PinDigest)
            .filter_map(|&i| live_service(i).map(|s| s.task_definition.clone()))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut reads = stream::iter(wanted)
            .map(|arn| async move {
                let read = self.clients.revision(&arn).await;
                (arn, read)
            })
            .buffer_unordered(crate::aws::FAN_OUT);
        let mut raw: BTreeMap<String, ecs::Revision> = BTreeMap::new();
        let mut td_tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        while let Some((arn, read)) = reads.next().await {
            let (td, tags) = read?;
            td_tags.insert(arn.clone(), tags);
            raw.insert(arn, td);
        }
        let mut live = BTreeMap::new();
        for &i in needed {
            let t = &targets[i];
            let task_definition = live_service(i)
                .filter(|_| t.strategy == Strategy::PinDigest)
                .and_then(|s| {
                    raw.get(&s.task_definition).map(|td| LiveTaskDefinition {
                        arn: s.task_definition.clone(),
                        containers: td.containers(),
                        tags: td_tags.get(&s.task_definition).cloned().unwrap_or_default(),
                    })
                });
            let service = services
                .get(&(t.cluster.clone(), t.service.clone()))
                .cloned();
            live.insert(
                i,
                Live {
                    service,
                    task_definition,
                },
            );
        }
        Ok((live, raw))
    }

    /// Makes one step's change; returns the new task definition's ARN for pin-digest.
    async fn apply(
        &self,
        target: &DeployTarget,
        step: &Step,
        raw: &BTreeMap<String, ecs::Revision>,
        registering: &BTreeMap<String, futures_util::lock::Mutex<()>>,
    ) -> Result<Option<String>> {
        let aws = &self.clients;
        match step {
            Step::PinDigest {
                base,
                container,
                image,
                tags,
                ..
            } => {
                let base_td = raw.get(base).ok_or_else(|| {
                    Error::invariant(format!("{base} was planned on but not read"))
                })?;
                let arn = {
                    let _one_at_a_time = match registering.get(base) {
                        Some(lock) => Some(lock.lock().await),
                        None => None,
                    };
                    self.register_once(base_td, container, image, tags).await?
                };
                aws.update_service(&target.cluster, &target.service, Some(&arn), false)
                    .await?;
                Ok(Some(arn))
            }
            Step::FollowTag { service_arn, tags } => {
                // The deployment first, the tags (what makes a repeated event a no-op) after:
                // a failure in between is redelivered and forces one more deployment of the
                // same image, never leaves the image recorded but not deployed.
                aws.update_service(&target.cluster, &target.service, None, true)
                    .await?;
                aws.tag_service(service_arn, tags).await?;
                Ok(None)
            }
        }
    }

    /// Registers the pinned copy once per push: a revision the deployer already registered for
    /// this event (an earlier delivery that failed later, or an attempt whose answer was lost)
    /// is found by its `autopilot:event-id` and used. A retryable failure is retried, after
    /// looking again, up to [`REGISTER_ATTEMPTS`] times.
    async fn register_once(
        &self,
        base: &ecs::Revision,
        container: &str,
        image: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        let event_id = tags.get(crate::tags::EVENT_ID).cloned().unwrap_or_default();
        if let Some(arn) = self.registered_for(base, &event_id).await? {
            tracing::info!(revision = %arn, event = %event_id, "registered by an earlier delivery of this event");
            return Ok(arn);
        }
        let mut attempt = 1;
        loop {
            match self
                .clients
                .register_copy(base, container, image, tags)
                .await
            {
                Ok(arn) => return Ok(arn),
                Err(e) if e.is_retryable() && attempt < REGISTER_ATTEMPTS => {
                    tracing::warn!(error = ?e, attempt, "RegisterTaskDefinition failed; looking for the revision before trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                        .await;
                    if let Some(arn) = self.registered_for(base, &event_id).await? {
                        return Ok(arn);
                    }
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The revision of `base`'s family that the deployer registered for event `event_id`, among
    /// those newer than `base` (at most 5 are read).
    async fn registered_for(&self, base: &ecs::Revision, event_id: &str) -> Result<Option<String>> {
        if event_id.is_empty() {
            return Ok(None);
        }
        let newer: Vec<String> = self
            .clients
            .active_revisions(base.family())
            .await?
            .into_iter()
            .filter(|a| revision_number(a) > revision_number(base.arn()))
            .take(5)
            .collect();
        for arn in newer {
            let (_, tags) = self.clients.revision(&arn).await?;
            let ours = tags.get(crate::tags::REGISTERED_BY).map(String::as_str) == Some("deployer");
            if ours && tags.get(crate::tags::EVENT_ID).map(String::as_str) == Some(event_id) {
                return Ok(Some(arn));
            }
        }
        Ok(None)
    }

    async fn notify_push(
        &self,
        push: &Event<EcrImageAction>,
        targets: &[DeployTarget],
        plan: &PushPlan,
    ) -> Result<()> {
        for planned in &plan.planned {
            let Some(target) = planned.target else {
                continue;
            };
            if !planned.decision.reason.is_notified() {
                continue;
            }
            let notice = notices::push_decision(push, &targets[target], &planned.decision);
            self.clients
                .publish(&self.config.topic_arn, &notice)
                .await?;
        }
        Ok(())
    }
}
