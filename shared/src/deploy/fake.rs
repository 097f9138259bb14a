//! The in-memory fake's side of this job's ports (`testing::FakeAws`).

use std::collections::BTreeMap;

use super::DeployPorts;
use crate::aws::ecs::Revision;
use crate::error::Result;
use crate::model::task::StoppedTask;
use crate::testing::FakeAws;

impl DeployPorts for FakeAws {
    async fn tagged_services(
        &self,
        key: &str,
        values: &[String],
    ) -> Result<Vec<crate::model::service::TaggedService>> {
        self.find_tagged(key, values).await
    }

    async fn revision(&self, arn: &str) -> Result<(Revision, BTreeMap<String, String>)> {
        self.call("ECS.DescribeTaskDefinition");
        self.with(|s| s.revisions.get(arn).cloned()).ok_or_else(|| {
            crate::error::Error::invariant(format!("the fake has no revision {arn}"))
        })
    }

    async fn register_copy(
        &self,
        base: &Revision,
        container: &str,
        image: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        self.call("ECS.RegisterTaskDefinition");
        let family = base.family().to_string();
        Ok(self.with(|s| {
            let next = s
                .revisions
                .keys()
                .filter_map(|a| a.rsplit_once(&format!("task-definition/{family}:")))
                .filter_map(|(_, n)| n.parse::<u32>().ok())
                .max()
                .unwrap_or(0)
                + 1;
            let arn = format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{next}");
            s.revisions.insert(
                arn.clone(),
                (base.copy_as(&arn, container, image), tags.clone()),
            );
            arn
        }))
    }

    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition: Option<&str>,
        _force_new_deployment: bool,
    ) -> Result<()> {
        self.call("ECS.UpdateService");
        let cluster = crate::model::arn::cluster_name(cluster).to_string();
        self.with(|s| {
            for x in s.services.iter_mut() {
                if x.cluster == cluster && x.name == service {
                    if let Some(td) = task_definition {
                        x.task_definition = td.to_string();
                    }
                }
            }
        });
        Ok(())
    }

    async fn deployment_stops(
        &self,
        _cluster: &str,
        _service: &str,
        deployment_id: &str,
        _limit: usize,
    ) -> Result<Vec<StoppedTask>> {
        self.call("ECS.ListTasks");
        if let Some(code) = self.with(|s| s.deployment_stops_fail_with) {
            return Err(crate::testing::aws_error("ListTasks", code));
        }
        self.call("ECS.DescribeTasks");
        Ok(self.with(|s| {
            s.deployment_stops
                .get(deployment_id)
                .cloned()
                .unwrap_or_default()
        }))
    }

    async fn active_revisions(&self, family: &str) -> Result<Vec<String>> {
        self.call("ECS.ListTaskDefinitions");
        Ok(self.with(|s| {
            let mut arns: Vec<String> = s
                .revisions
                .keys()
                .filter(|a| a.contains(&format!("task-definition/{family}:")))
                .cloned()
                .collect();
            arns.reverse();
            arns
        }))
    }

    async fn deregister(&self, arn: &str) -> Result<()> {
        self.call("ECS.DeregisterTaskDefinition");
        self.with(|s| s.revisions.remove(arn));
        Ok(())
    }

    async fn service_deployment(
        &self,
        arn: &str,
    ) -> Result<Option<crate::model::deployment::ServiceDeploymentBrief>> {
        self.call_or_fail("ECS.DescribeServiceDeployments")?;
        Ok(self.with(|s| s.service_deployments.get(arn).cloned()))
    }

    async fn latest_service_deployment(
        &self,
        _cluster: &str,
        service: &str,
    ) -> Result<Option<crate::model::deployment::ServiceDeploymentBrief>> {
        self.call_or_fail("ECS.ListServiceDeployments")?;
        self.call_or_fail("ECS.DescribeServiceDeployments")?;
        Ok(self.with(|s| {
            s.service_deployments
                .values()
                .filter(|d| d.arn.contains(&format!("/{service}/")))
                .max_by_key(|d| d.created_at)
                .cloned()
        }))
    }

    async fn schedule_once(&self, schedule: &crate::aws::scheduler::OneShot) -> Result<bool> {
        self.call_or_fail("Scheduler.CreateSchedule")?;
        Ok(self.with(|s| {
            if s.schedules.iter().any(|x| x.name == schedule.name) {
                return false;
            }
            s.schedules.push(schedule.clone());
            true
        }))
    }
}
