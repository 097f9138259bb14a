//! Applies a stop's plan: tags, scaling, a restart, then its notice. Decides nothing: what a
//! failed change makes is in the plan (`unapplied`, `failed`), the error is only added to it.

use super::plan::{self, Act, Plan, RunSpec, StopReport};
use super::{notices, rules, Action, TaskWatcher};
use crate::capacity;
use crate::error::{Error, Result};
use crate::events::{EcsTaskStateChange, Event};
use crate::model::task::RunAgain;
use crate::tasks::ports::TaskPorts;

impl<P: TaskPorts> TaskWatcher<P> {
    /// Carries a plan out: tags, scaling, a restart, then its notice. A change that fails is
    /// said in the notice; a retryable failure then fails the invocation, so the event comes
    /// again (the notice's id is the same: Chatbot shows it once).
    pub(super) async fn apply(
        &self,
        ev: &Event<EcsTaskStateChange>,
        plan: Plan,
    ) -> Result<StopReport> {
        let (aws, topic) = (&self.clients, &self.config.topic_arn);
        let Plan { mut report, act } = plan;
        crate::tag_problems::say_once(
            aws,
            topic,
            "task-watcher",
            crate::tag_problems::watcher_memory,
            self.config.dry_run,
            &report.tag_problems,
            |problem| {
                if problem.tag == crate::tags::WATCH {
                    "The task-watcher keeps watching the service.".into()
                } else {
                    "Its stops keep their own severity.".into()
                }
            },
        )
        .await?;
        match act {
            Act::Nothing => Ok(report),
            Act::Publish { notice } => {
                aws.publish(topic, &notice).await?;
                Ok(report)
            }
            Act::CrashLoop {
                service,
                apply,
                tags,
                scale,
                notice,
                mut unapplied,
            } => {
                let applied = async {
                    if apply {
                        aws.tag_service(&service.arn, &tags).await?;
                        if let Some(recorded) = scale {
                            capacity::to_zero(aws, &service, recorded).await?;
                        }
                    }
                    Ok::<(), Error>(())
                }
                .await;
                let Err(e) = applied else {
                    aws.publish(topic, &notice).await?;
                    return Ok(report);
                };
                unapplied.description.push_str(&format!(
                    "\nThe watcher could not remember or scale this loop: {e}"
                ));
                report.actions.retain(|a| *a != Action::ScaleToZero);
                report.tagged.clear();
                report.detail = unapplied.summary.clone();
                aws.publish(topic, &unapplied).await?;
                if e.is_retryable() {
                    return Err(e);
                }
                report.detail = format!("{} Not remembered or scaled: {e}", report.detail);
                Ok(report)
            }
            Act::Restart {
                run,
                attempt,
                classification,
                failed,
            } => {
                let new_task = match &run {
                    Some(run) => match self.run_again(&ev.detail, run).await {
                        Ok(arn) => Some(arn),
                        Err(e) => {
                            let why = format!(
                                "The restart failed: {e}. Check the task-watcher's RESTART_NETWORK, the task definition and the watcher's ecs:RunTask and iam:PassRole permissions."
                            );
                            let (report, notice) = *failed;
                            let (report, notice) =
                                plan::with_note(report, notice, &classification, Some(why));
                            aws.publish(topic, &notice).await?;
                            return if e.is_retryable() { Err(e) } else { Ok(report) };
                        }
                    },
                    None => None,
                };
                let (max, dry_run) = (self.config.max_restarts, self.config.dry_run);
                let notice = notices::restarted(
                    ev,
                    &classification,
                    new_task.as_deref(),
                    attempt,
                    max,
                    dry_run,
                );
                aws.publish(topic, &notice).await?;
                report.notification_id = Some(notice.id);
                Ok(report)
            }
        }
    }

    /// RunTask with what the stopped task ran with. The client token makes a duplicate event
    /// start no second task.
    async fn run_again(&self, stop: &EcsTaskStateChange, run: &RunSpec) -> Result<String> {
        self.clients
            .run_again(&RunAgain {
                cluster: &stop.cluster_arn,
                task_definition: stop.task_definition_arn.as_deref(),
                group: stop.group.as_deref(),
                started_by: &rules::started_by(run.attempt),
                client_token: format!("restart-{}", stop.task_id()),
                subnets: &run.network.subnets,
                security_groups: &run.network.security_groups,
                assign_public_ip: run.network.assign_public_ip,
                tags: &run.tags,
                capacity_provider: stop.capacity_provider_name.as_deref(),
                launch_type: stop.launch_type.as_deref(),
                overrides: stop.overrides.as_ref(),
            })
            .await
    }
}
