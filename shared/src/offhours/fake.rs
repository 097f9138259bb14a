//! The in-memory fake's side of this job's ports (`testing::FakeAws`).

use std::collections::BTreeMap;

use super::OffHoursPorts;
use crate::model::price::{Arch, FargatePrices, TaskSize};
use crate::testing::FakeState;

/// Off-hours' state in the fake: the alarms on a service, the size of a revision's tasks.
impl FakeState {
    /// A metric alarm `name` on service `cluster/service`, its actions on or off.
    pub fn alarm(&mut self, name: &str, cluster: &str, service: &str, enabled: bool) {
        self.alarms
            .insert(name.into(), (cluster.into(), service.into(), enabled));
    }

    /// The task-level CPU units and memory MiB of revision `task_definition` (x86, the free
    /// 20 GiB of ephemeral storage).
    pub fn task_size(&mut self, task_definition: &str, cpu: f64, memory: f64) {
        self.sizes.insert(
            task_definition.into(),
            TaskSize {
                vcpu: cpu / 1024.0,
                gb: memory / 1024.0,
                ..TaskSize::default()
            },
        );
    }

    /// The CPU architecture and ephemeral storage of revision `task_definition`.
    pub fn task_platform(&mut self, task_definition: &str, arch: Arch, storage_gib: f64) {
        let size = self.sizes.entry(task_definition.into()).or_default();
        size.arch = arch;
        size.storage_gib = storage_gib;
    }

    /// What the Price List answers for `region` (without, GetProducts fails as in the
    /// emulator, which has no Price List API).
    pub fn fargate_prices(&mut self, region: &str, prices: FargatePrices) {
        self.prices.insert(region.into(), prices);
    }
}
use crate::error::Result;
use crate::model::alarm::ServiceAlarm;
use crate::testing::FakeAws;

impl OffHoursPorts for FakeAws {
    async fn tagged_services(
        &self,
        key: &str,
        values: &[String],
    ) -> Result<Vec<crate::model::service::TaggedService>> {
        self.find_tagged(key, values).await
    }

    async fn alarm_tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        self.tags_of_alarm(arn).await
    }

    async fn service_arns(&self, cluster: &str) -> Result<Vec<String>> {
        self.call("ECS.ListServices");
        let cluster = crate::model::arn::cluster_name(cluster).to_string();
        Ok(self.with(|s| {
            s.services
                .iter()
                .filter(|x| x.cluster == cluster)
                .map(|x| x.arn.clone())
                .collect()
        }))
    }

    async fn untag_service(&self, arn: &str, keys: &[&str]) -> Result<()> {
        self.call_or_fail("ECS.UntagResource")?;
        self.with(|s| {
            for x in s.services.iter_mut().filter(|x| x.arn == arn) {
                x.tags.retain(|k, _| !keys.contains(&k.as_str()));
            }
        });
        Ok(())
    }

    async fn alarms_by_service(&self) -> Result<BTreeMap<(String, String), Vec<ServiceAlarm>>> {
        self.call("CloudWatch.DescribeAlarms");
        Ok(self.with(|s| {
            let mut out: BTreeMap<(String, String), Vec<ServiceAlarm>> = BTreeMap::new();
            for (name, (cluster, service, enabled)) in &s.alarms {
                out.entry((cluster.clone(), service.clone()))
                    .or_default()
                    .push(ServiceAlarm {
                        name: name.clone(),
                        arn: crate::testing::alarm_arn(name),
                        actions_enabled: *enabled,
                        actions: s.alarm_actions.get(name).cloned().unwrap_or_default(),
                    });
            }
            out
        }))
    }

    async fn tag_alarm(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.call_or_fail("CloudWatch.TagResource")?;
        self.with(|s| {
            s.alarm_tags
                .entry(arn.to_string())
                .or_default()
                .extend(tags.clone())
        });
        Ok(())
    }

    async fn untag_alarm(&self, arn: &str, keys: &[&str]) -> Result<()> {
        self.call_or_fail("CloudWatch.UntagResource")?;
        self.with(|s| {
            if let Some(t) = s.alarm_tags.get_mut(arn) {
                t.retain(|k, _| !keys.contains(&k.as_str()));
            }
        });
        Ok(())
    }

    async fn set_alarm_actions(&self, names: &[String], enable: bool) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        self.call_or_fail(if enable {
            "CloudWatch.EnableAlarmActions"
        } else {
            "CloudWatch.DisableAlarmActions"
        })?;
        self.with(|s| {
            for n in names {
                if let Some(a) = s.alarms.get_mut(n) {
                    a.2 = enable;
                }
            }
        });
        Ok(())
    }

    async fn task_size(&self, task_definition: &str) -> Result<TaskSize> {
        self.call("ECS.DescribeTaskDefinition");
        Ok(self.with(|s| s.sizes.get(task_definition).copied().unwrap_or_default()))
    }

    async fn fargate_prices(&self, region: &str) -> Result<FargatePrices> {
        self.call_or_fail("Pricing.GetProducts")?;
        self.with(|s| s.prices.get(region).copied())
            .ok_or_else(|| crate::testing::aws_error("GetProducts", "UnknownOperationException"))
    }
}
