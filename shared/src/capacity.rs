//! What a service must come back to after it was scaled to zero: its desired count and, when it
//! has an Application Auto Scaling target, that target's min and max. Recorded in the service
//! tag `autopilot:restore` before anything changes; shared by the task-watcher (crash loops) and
//! off-hours.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aws::autoscaling;
use crate::error::Result;
use crate::ports::Capacity;
use crate::service::ServiceSnapshot;
use crate::tags;

/// Capacity to restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Restore {
    pub desired: i32,
    pub min: Option<i32>,
    pub max: Option<i32>,
}

impl Restore {
    /// The tag value: `desired=2 min=2 max=10` (tag values allow letters, digits, spaces, `=`).
    pub fn to_tag(&self) -> String {
        let mut s = format!("desired={}", self.desired);
        if let (Some(min), Some(max)) = (self.min, self.max) {
            s.push_str(&format!(" min={min} max={max}"));
        }
        s
    }

    /// Reads a tag value; `None` when it is damaged (then nothing is guessed).
    pub fn parse(tag: &str) -> Option<Restore> {
        let (mut desired, mut min, mut max) = (None, None, None);
        for part in tag.split_whitespace() {
            let (k, v) = part.split_once('=')?;
            let v: i32 = v.parse().ok().filter(|n| *n >= 0)?;
            match k {
                "desired" => desired = Some(v),
                "min" => min = Some(v),
                "max" => max = Some(v),
                _ => return None,
            }
        }
        if min.is_some() != max.is_some() || min.zip(max).is_some_and(|(a, b)| a > b) {
            return None;
        }
        Some(Restore {
            desired: desired?,
            min,
            max,
        })
    }
}

/// The capacity a service has now: its desired count and its scalable target, if any.
pub async fn current(aws: &impl Capacity, service: &ServiceSnapshot) -> Result<Restore> {
    let bounds = aws
        .scalable_bounds(&[autoscaling::resource_id(&service.cluster, &service.name)])
        .await?;
    let target = bounds.values().next();
    Ok(Restore {
        desired: service.desired,
        min: target.map(|t| t.0),
        max: target.map(|t| t.1),
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
/// has one (so target tracking cannot bring tasks back), then the desired count to 0.
pub async fn to_zero(
    aws: &impl Capacity,
    service: &ServiceSnapshot,
    recorded: Restore,
) -> Result<()> {
    if recorded.min.is_some() {
        aws.set_bounds(&service.cluster, &service.name, 0, 0)
            .await?;
    }
    aws.set_desired(&service.cluster, &service.name, 0).await
}

/// Puts the scalable target's bounds back, then the desired count.
pub async fn restore(
    aws: &impl Capacity,
    service: &ServiceSnapshot,
    restore: Restore,
) -> Result<()> {
    let (cluster, name) = (&service.cluster, &service.name);
    if let (Some(min), Some(max)) = (restore.min, restore.max) {
        aws.set_bounds(cluster, name, min, max).await?;
    }
    aws.set_desired(cluster, name, restore.desired).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restore_tag_round_trips_and_is_a_valid_tag_value() {
        for r in [
            Restore {
                desired: 2,
                min: Some(2),
                max: Some(10),
            },
            Restore {
                desired: 3,
                min: None,
                max: None,
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
        ] {
            assert_eq!(Restore::parse(bad), None, "{bad:?}");
        }
    }
}
