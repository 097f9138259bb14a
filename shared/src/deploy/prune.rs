//! `KEEP_REVISIONS`: after a deployment completes, deregister the revisions of the family that
//! the deployer registered beyond the newest N, never the live one nor the one it replaced.

use std::collections::BTreeMap;

use crate::aws::ecs::Revision;
use crate::deploy::ports::DeployPorts;
use crate::error::Result;
use crate::tags;

/// At most this many older revisions are examined per run; the next completion goes on.
const MAX_EXAMINED: usize = 50;

/// Which revisions to deregister, given the family's ACTIVE revisions newest first and, for
/// each, whether the deployer registered it. Pure.
pub fn choose(
    revisions: &[(String, bool)],
    live: &str,
    replaced: Option<&str>,
    keep: usize,
) -> Vec<String> {
    let mut kept = 0;
    let mut drop = Vec::new();
    for (arn, ours) in revisions {
        if !ours {
            continue;
        }
        if arn == live || Some(arn.as_str()) == replaced {
            kept += 1;
            continue;
        }
        if kept < keep {
            kept += 1;
        } else {
            drop.push(arn.clone());
        }
    }
    drop
}

/// Deregisters what [`choose`] picks; returns the ARNs deregistered.
pub async fn prune(
    aws: &impl DeployPorts,
    live: &Revision,
    live_tags: &BTreeMap<String, String>,
    keep: usize,
) -> Result<Vec<String>> {
    let (family, live_arn) = (live.family(), live.arn());
    if family.is_empty() || live_arn.is_empty() {
        return Ok(vec![]);
    }
    let listed = aws.active_revisions(family).await?;
    // Keep this family's revisions only, newest first (whatever order the listing came in).
    let mut same_family: Vec<(u64, String)> = listed
        .into_iter()
        .filter_map(|arn| {
            let (f, rev) = arn.rsplit_once(":task-definition/")?.1.rsplit_once(':')?;
            let rev = rev.parse().ok()?;
            (f == family).then_some((rev, arn))
        })
        .collect();
    same_family.sort_by_key(|(rev, _)| std::cmp::Reverse(*rev));
    let same_family: Vec<String> = same_family.into_iter().map(|(_, arn)| arn).collect();
    let mut revisions = Vec::new();
    for arn in same_family.iter().take(MAX_EXAMINED) {
        let ours = if arn == live_arn {
            live_tags.contains_key(tags::REGISTERED_BY)
        } else {
            let (_, t) = aws.revision(arn).await?;
            t.contains_key(tags::REGISTERED_BY)
        };
        revisions.push((arn.clone(), ours));
    }
    // `autopilot:replaces` names the replaced revision of this family by ARN, or in a shorter
    // form ending in its revision number when the ARN is too long for a tag value.
    let replaced = live_tags
        .get(tags::REPLACES)
        .map(|v| crate::model::revision::revision_number(v))
        .and_then(|n| {
            same_family
                .iter()
                .find(|a| crate::model::revision::revision_number(a) == n)
        })
        .map(String::as_str);
    let drop = choose(&revisions, live_arn, replaced, keep);
    for arn in &drop {
        aws.deregister(arn).await?;
        tracing::info!(task_definition = %arn, "deregistered an old revision");
    }
    Ok(drop)
}

#[cfg(test)]
mod tests {
    use super::choose;

    fn revs(spec: &[(u32, bool)]) -> Vec<(String, bool)> {
        spec.iter()
            .map(|(r, ours)| {
                (
                    format!("arn:aws:ecs:us-east-1:1:task-definition/web:{r}"),
                    *ours,
                )
            })
            .collect()
    }

    #[test]
    fn keeps_the_newest_n_of_ours_and_never_the_live_or_replaced() {
        let r = revs(&[
            (9, true),
            (8, true),
            (7, false),
            (6, true),
            (5, true),
            (4, true),
        ]);
        let live = "arn:aws:ecs:us-east-1:1:task-definition/web:9";
        let replaced = "arn:aws:ecs:us-east-1:1:task-definition/web:4";
        let drop = choose(&r, live, Some(replaced), 2);
        assert_eq!(drop, vec![r[3].0.clone(), r[4].0.clone()]);
        let drop = choose(&r, live, Some(replaced), 1);
        assert!(drop.contains(&r[1].0) && !drop.contains(&r[5].0) && !drop.contains(&r[0].0));
        assert!(
            !drop.contains(&r[2].0),
            "revisions not registered by the deployer are never touched"
        );
    }
}
