//! What a service must come back to after it was scaled to zero: its desired count and, when it
//! has an Application Auto Scaling target, that target's min and max. Recorded in the service
//! tag `autopilot:restore` before anything changes; shared by the task-watcher (crash loops) and
//! off-hours. Off-hours also records the target's suspended state, and keeps every scaling
//! activity suspended while the service sleeps (a scheduled action would otherwise reset the
//! bounds at night).

use std::collections::BTreeMap;
use std::future::Future;

use serde::Serialize;

use crate::aws::{autoscaling, ecs, Clients};
use crate::error::Result;
use crate::model::scaling::{ScalableTarget, Suspended};
use crate::model::service::ServiceSnapshot;
use crate::ports::TagService;
use crate::tags;

/// Set a service's capacity: the one way both the task-watcher and off-hours scale.
pub trait Capacity: TagService {
    /// The services' scalable targets (bounds and suspended state), by resource id
    /// (`service/<cluster>/<service>`); services without a target are absent.
    fn scalable_targets(
        &self,
        resource_ids: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, ScalableTarget>>> + Send;
    /// Sets a scalable target's bounds and, when given, its suspended state.
    fn set_bounds(
        &self,
        cluster: &str,
        service: &str,
        min: i32,
        max: i32,
        suspended: Option<Suspended>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn set_desired(
        &self,
        cluster: &str,
        service: &str,
        desired: i32,
    ) -> impl Future<Output = Result<()>> + Send;
}

impl Capacity for Clients {
    async fn scalable_targets(
        &self,
        resource_ids: &[String],
    ) -> Result<BTreeMap<String, ScalableTarget>> {
        autoscaling::targets(&self.autoscaling, resource_ids).await
    }

    async fn set_bounds(
        &self,
        cluster: &str,
        service: &str,
        min: i32,
        max: i32,
        suspended: Option<Suspended>,
    ) -> Result<()> {
        autoscaling::set_bounds(&self.autoscaling, cluster, service, min, max, suspended).await
    }

    async fn set_desired(&self, cluster: &str, service: &str, desired: i32) -> Result<()> {
        ecs::update_desired_count(&self.ecs, cluster, service, desired).await
    }
}

/// Capacity to restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Restore {
    pub desired: i32,
    pub min: Option<i32>,
    pub max: Option<i32>,
    /// The scalable target's suspended state to put back. Recorded by off-hours only (which
    /// then suspends every scaling activity while asleep); absent from a crash loop's record
    /// and from records written before off-hours knew of it: then it is left as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<Suspended>,
}

impl Restore {
    /// The tag value: `desired=2 min=2 max=10`, with off-hours' `suspended=none` or
    /// `suspended=in+out+scheduled` (any of the three) after it (tag values allow letters,
    /// digits, spaces, `=` and `+`).
    pub fn to_tag(&self) -> String {
        let mut s = format!("desired={}", self.desired);
        if let (Some(min), Some(max)) = (self.min, self.max) {
            s.push_str(&format!(" min={min} max={max}"));
            if let Some(sus) = self.suspended {
                let on: Vec<&str> = [
                    (sus.dynamic_in, "in"),
                    (sus.dynamic_out, "out"),
                    (sus.scheduled, "scheduled"),
                ]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| *n)
                .collect();
                let v = if on.is_empty() {
                    "none".to_string()
                } else {
                    on.join("+")
                };
                s.push_str(&format!(" suspended={v}"));
            }
        }
        s
    }

    /// Reads a tag value; `None` when it is damaged (then nothing is guessed).
    pub fn parse(tag: &str) -> Option<Restore> {
        let (mut desired, mut min, mut max, mut suspended) = (None, None, None, None);
        let count = |v: &str| v.parse::<i32>().ok().filter(|n| *n >= 0);
        for part in tag.split_whitespace() {
            let (k, v) = part.split_once('=')?;
            match k {
                "desired" => desired = Some(count(v)?),
                "min" => min = Some(count(v)?),
                "max" => max = Some(count(v)?),
                "suspended" => suspended = Some(parse_suspended(v)?),
                _ => return None,
            }
        }
        if min.is_some() != max.is_some() || min.zip(max).is_some_and(|(a, b)| a > b) {
            return None;
        }
        // A suspended state belongs to a scalable target: without bounds it is damage.
        if suspended.is_some() && min.is_none() {
            return None;
        }
        Some(Restore {
            desired: desired?,
            min,
            max,
            suspended,
        })
    }
}

/// `none`, or `in`, `out`, `scheduled` joined by `+`, each at most once.
fn parse_suspended(v: &str) -> Option<Suspended> {
    let mut s = Suspended::default();
    if v == "none" {
        return Some(s);
    }
    for part in v.split('+') {
        let flag = match part {
            "in" => &mut s.dynamic_in,
            "out" => &mut s.dynamic_out,
            "scheduled" => &mut s.scheduled,
            _ => return None,
        };
        if *flag {
            return None;
        }
        *flag = true;
    }
    Some(s)
}

/// The capacity a service has now: its desired count and its scalable target's bounds, if any
/// (the crash-loop record: the suspended state is not touched, so not recorded).
pub async fn current(aws: &impl Capacity, service: &ServiceSnapshot) -> Result<Restore> {
    let targets = aws
        .scalable_targets(&[autoscaling::resource_id(&service.cluster, &service.name)])
        .await?;
    let target = targets.values().next();
    Ok(Restore {
        desired: service.desired,
        min: target.map(|t| t.min),
        max: target.map(|t| t.max),
        suspended: None,
    })
}

/// What recording `restore` on a service writes: the capacity kept (a readable
/// `autopilot:restore` already there is the truth and is kept) and the tags, `extra` included.
/// Pure: a dry run says it without writing it.
pub fn record_plan(
    service: &ServiceSnapshot,
    restore: Restore,
    extra: &[(&str, String)],
) -> (Restore, BTreeMap<String, String>) {
    let recorded = service
        .tags
        .get(tags::RESTORE)
        .and_then(|t| Restore::parse(t))
        .unwrap_or(restore);
    let mut tags: BTreeMap<String, String> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    tags.insert(tags::RESTORE.into(), recorded.to_tag());
    (recorded, tags)
}

/// Records the capacity to restore in the service's `autopilot:restore` tag, with `extra`
/// tags, before anything changes (see [`record_plan`]). Returns the capacity recorded.
pub async fn record(
    aws: &impl Capacity,
    service: &ServiceSnapshot,
    restore: Restore,
    extra: &[(&str, String)],
) -> Result<Restore> {
    let (recorded, tags) = record_plan(service, restore, extra);
    aws.tag_service(&service.arn, &tags).await?;
    Ok(recorded)
}

/// Scales a service whose capacity is recorded to zero: the scalable target to 0..0 when it
/// has one (so target tracking cannot bring tasks back), with every scaling activity
/// suspended when the record holds the suspended state to go back to (so a scheduled action
/// cannot either), then the desired count to 0.
pub async fn to_zero(
    aws: &impl Capacity,
    service: &ServiceSnapshot,
    recorded: Restore,
) -> Result<()> {
    if recorded.min.is_some() {
        let suspend = recorded.suspended.map(|_| Suspended::ALL);
        aws.set_bounds(&service.cluster, &service.name, 0, 0, suspend)
            .await?;
    }
    aws.set_desired(&service.cluster, &service.name, 0).await
}

/// Puts the scalable target's bounds (and the recorded suspended state) back, then the desired
/// count.
pub async fn restore(
    aws: &impl Capacity,
    service: &ServiceSnapshot,
    restore: Restore,
) -> Result<()> {
    let (cluster, name) = (&service.cluster, &service.name);
    if let (Some(min), Some(max)) = (restore.min, restore.max) {
        aws.set_bounds(cluster, name, min, max, restore.suspended)
            .await?;
    }
    aws.set_desired(cluster, name, restore.desired).await
}

#[cfg(test)]
mod fake {
    use std::collections::BTreeMap;

    use super::Capacity;
    use crate::error::Result;
    use crate::model::scaling::{ScalableTarget, Suspended};
    use crate::testing::{FakeAws, FakeState};

    /// The capacity state in the fake: a service's scalable target.
    impl FakeState {
        /// Service `cluster/service`'s scalable target, `min..max`.
        pub fn scalable(&mut self, cluster: &str, service: &str, min: i32, max: i32) {
            self.bounds
                .insert(format!("service/{cluster}/{service}"), (min, max));
        }
    }

    impl Capacity for FakeAws {
        async fn scalable_targets(
            &self,
            resource_ids: &[String],
        ) -> Result<BTreeMap<String, ScalableTarget>> {
            self.call("Application Auto Scaling.DescribeScalableTargets");
            Ok(self.with(|s| {
                s.bounds
                    .iter()
                    .filter(|(id, _)| resource_ids.contains(id))
                    .map(|(id, b)| {
                        let target = ScalableTarget {
                            min: b.0,
                            max: b.1,
                            suspended: s.suspended.get(id).copied().unwrap_or_default(),
                        };
                        (id.clone(), target)
                    })
                    .collect()
            }))
        }

        async fn set_bounds(
            &self,
            cluster: &str,
            service: &str,
            min: i32,
            max: i32,
            suspended: Option<Suspended>,
        ) -> Result<()> {
            self.call_or_fail("Application Auto Scaling.RegisterScalableTarget")?;
            let id = crate::model::scaling::resource_id(cluster, service);
            self.with(|s| {
                if let Some(sus) = suspended {
                    s.suspended.insert(id.clone(), sus);
                }
                s.bounds.insert(id, (min, max))
            });
            Ok(())
        }

        async fn set_desired(&self, cluster: &str, service: &str, desired: i32) -> Result<()> {
            self.call_or_fail("ECS.UpdateService")?;
            let cluster = crate::model::arn::cluster_name(cluster).to_string();
            self.with(|s| {
                for x in s.services.iter_mut() {
                    if x.cluster == cluster && x.name == service {
                        x.desired = desired;
                    }
                }
            });
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_written_before_the_suspended_state_was_kept_still_reads() {
        // What off-hours and the task-watcher wrote before: no suspended state, so waking
        // from it leaves the target's suspended state as it is.
        assert_eq!(
            Restore::parse("desired=2 min=2 max=10"),
            Some(Restore {
                desired: 2,
                min: Some(2),
                max: Some(10),
                suspended: None,
            })
        );
        assert_eq!(
            Restore::parse("desired=2 min=2 max=10 suspended=scheduled").and_then(|r| r.suspended),
            Some(Suspended {
                dynamic_in: false,
                dynamic_out: false,
                scheduled: true,
            })
        );
    }

    #[test]
    fn the_restore_tag_round_trips_and_is_a_valid_tag_value() {
        for r in [
            Restore {
                desired: 2,
                min: Some(2),
                max: Some(10),
                suspended: None,
            },
            Restore {
                desired: 3,
                min: None,
                max: None,
                suspended: None,
            },
            Restore {
                desired: 2,
                min: Some(2),
                max: Some(10),
                suspended: Some(Suspended::default()),
            },
            Restore {
                desired: 2,
                min: Some(1),
                max: Some(4),
                suspended: Some(Suspended {
                    dynamic_in: true,
                    dynamic_out: false,
                    scheduled: true,
                }),
            },
            Restore {
                desired: 0,
                min: Some(0),
                max: Some(0),
                suspended: Some(Suspended::ALL),
            },
        ] {
            assert!(crate::tags::is_valid_value(&r.to_tag()), "{}", r.to_tag());
            assert_eq!(Restore::parse(&r.to_tag()), Some(r));
        }
    }

    #[test]
    fn a_damaged_tag_is_not_guessed_at() {
        for bad in [
            "",
            "desired=",
            "desired=-1",
            "desired=2 min=3",
            "desired=2 min=5 max=1",
            "x=1 desired=2",
            "desired=two",
            "desired=2 suspended=none",
            "desired=2 min=2 max=10 suspended=",
            "desired=2 min=2 max=10 suspended=all",
            "desired=2 min=2 max=10 suspended=in+in",
            "desired=2 min=2 max=10 suspended=none+in",
        ] {
            assert_eq!(Restore::parse(bad), None, "{bad:?}");
        }
    }
}
