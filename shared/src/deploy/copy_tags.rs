//! The tags of a pin-digest copy: what the base revision's tags become on the revision the
//! deployer registers. Pure.
//!
//! - Kept: every tag of the base that AWS lets a caller write, the `autopilot:` ones included
//!   (the revision-level restart opt-in `autopilot:restart` must survive a deploy).
//! - Dropped: keys or values with the `aws:` prefix (CloudFormation's `aws:cloudformation:*`):
//!   AWS reserves it, and RegisterTaskDefinition refuses tags that carry it.
//! - Replaced: the deployer's own tags (image, event, what it replaces, who registered it).
//! - Fitted: every value to 256 characters, and the whole set to 50 tags, giving up first the
//!   base's other tags (by key, last first), then `autopilot:image-tag` (the notices fall back to
//!   the image itself); never what makes deploys safe to repeat and prune.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::tags;

/// The copy's tags, and the base's tags that could not come along.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyTags {
    pub tags: BTreeMap<String, String>,
    /// Keys of the base's tags left out: reserved by AWS, or beyond the 50-tag limit.
    pub left_out: Vec<String>,
}

/// The deployer's tags that pruning, redelivery and the late-event check rely on: never given
/// up for room.
const ESSENTIAL: [&str; 5] = [
    tags::REGISTERED_BY,
    tags::EVENT_ID,
    tags::IMAGE_DIGEST,
    tags::PUSHED_AT,
    tags::REPLACES,
];

/// The `autopilot:replaces` value for a base revision: its ARN when it fits in a tag value,
/// else `<family>:<revision>`, else the revision number alone (a copy stays in its base's
/// family, so the number names it). Every form ends in the revision number
/// ([`crate::model::revision::revision_number`] reads it).
pub fn replaces_value(base_arn: &str) -> String {
    if base_arn.chars().count() <= tags::MAX_VALUE_CHARS {
        return base_arn.to_string();
    }
    let short = base_arn
        .rsplit_once(":task-definition/")
        .map_or(base_arn, |(_, family_revision)| family_revision);
    if short.chars().count() <= tags::MAX_VALUE_CHARS {
        return short.to_string();
    }
    crate::model::revision::revision_number(base_arn).to_string()
}

/// The tags of the copy of `base_arn` (whose tags are `base`) with the deployer's `ours`
/// (image, digest, pushed-at, event id); `autopilot:replaces` and `autopilot:registered-by`
/// are added here.
pub fn copy_tags(
    base_arn: &str,
    base: &BTreeMap<String, String>,
    ours: BTreeMap<String, String>,
) -> CopyTags {
    let mut ours: BTreeMap<String, String> = ours
        .into_iter()
        .map(|(k, v)| (k, tags::fit_value(&v)))
        .collect();
    ours.insert(tags::REPLACES.into(), replaces_value(base_arn));
    ours.insert(tags::REGISTERED_BY.into(), "deployer".into());

    let mut left_out = vec![];
    // The base's writable tags that the deployer does not replace: `autopilot:` ones first.
    let mut kept: Vec<(&String, &String)> = vec![];
    for (k, v) in base {
        if tags::is_reserved(k) || tags::is_reserved(v) {
            left_out.push(k.clone());
        } else if !ours.contains_key(k) {
            kept.push((k, v));
        }
    }
    kept.sort_by(|(a, _), (b, _)| {
        (!a.starts_with(tags::PREFIX), a).cmp(&(!b.starts_with(tags::PREFIX), b))
    });

    // In order of what gives way last: the essentials, the base's (autopilot: first), the
    // image tag.
    let mut ranked: Vec<(String, String)> = ESSENTIAL
        .iter()
        .filter_map(|k| ours.remove_entry(*k))
        .collect();
    ranked.extend(kept.into_iter().map(|(k, v)| (k.clone(), v.clone())));
    ranked.extend(ours);
    let mut out = BTreeMap::new();
    for (k, v) in ranked {
        if out.len() < tags::MAX_TAGS_PER_RESOURCE {
            out.insert(k, v);
        } else if base.contains_key(&k) {
            left_out.push(k);
        } else {
            tracing::warn!(tag = %k, "no room for the deployer's tag on the copy");
        }
    }
    left_out.sort();
    CopyTags {
        tags: out,
        left_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest task-definition ARN AWS can give: a 255-character family, the longest
    /// partition and region names, a 7-digit revision.
    fn longest_arn() -> String {
        format!(
            "arn:aws-us-gov:ecs:ap-southeast-2:123456789012:task-definition/{}:1000000",
            "f".repeat(255)
        )
    }

    fn ours(tag: &str) -> BTreeMap<String, String> {
        crate::testing::tags(&[
            (tags::IMAGE_TAG, tag),
            (
                tags::IMAGE_DIGEST,
                "sha256:0c1f6e7bb4b4f7e2a1d3c5b7e9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7",
            ),
            (tags::PUSHED_AT, "2026-11-16T02:00:00Z"),
            (tags::EVENT_ID, "ddca6449-b258-46c0-8653-e0e3a6EXAMPLE"),
        ])
    }

    fn valid(t: &CopyTags) {
        assert!(
            t.tags.len() <= tags::MAX_TAGS_PER_RESOURCE,
            "{}",
            t.tags.len()
        );
        for (k, v) in &t.tags {
            assert!(tags::is_valid_value(v), "{k}: {v}");
            assert!(!tags::is_reserved(k) && !tags::is_reserved(v), "{k}={v}");
            assert!(k.chars().count() <= 128, "{k}");
        }
    }

    #[test]
    fn the_restart_opt_in_and_other_tags_survive_and_reserved_ones_are_dropped() {
        let base = crate::testing::tags(&[
            (tags::RESTART, "on-interruption"),
            ("team", "payments"),
            ("aws:cloudformation:stack-name", "shop"),
            ("AWS:Other", "x"),
            ("origin", "aws:marketplace"),
            // An earlier copy's: replaced, not duplicated.
            (tags::IMAGE_TAG, "v1.4.1"),
            (tags::REGISTERED_BY, "deployer"),
        ]);
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
        let t = copy_tags(arn, &base, ours("v1.4.2"));
        valid(&t);
        assert_eq!(t.tags[tags::RESTART], "on-interruption");
        assert_eq!(t.tags["team"], "payments");
        assert_eq!(t.tags[tags::IMAGE_TAG], "v1.4.2");
        assert_eq!(t.tags[tags::REPLACES], arn);
        assert_eq!(t.tags[tags::REGISTERED_BY], "deployer");
        assert_eq!(
            t.left_out,
            ["AWS:Other", "aws:cloudformation:stack-name", "origin"]
        );
    }

    #[test]
    fn the_longest_inputs_fit_every_limit() {
        // 50 writable tags on the base (the most AWS allows), 10 reserved ones (not counted by
        // AWS), the restart opt-in among them, values of 256 characters, and a 300-character
        // image tag (ECR's longest).
        let mut base: BTreeMap<String, String> = (0..49)
            .map(|i| (format!("{i:02}{}", "k".repeat(126)), "v".repeat(256)))
            .collect();
        base.insert(tags::RESTART.into(), "on-failure".into());
        for i in 0..10 {
            base.insert(format!("aws:reserved:{i}"), "x".into());
        }
        let arn = longest_arn();
        let long_tag = "t".repeat(300);
        let t = copy_tags(&arn, &base, ours(&long_tag));
        valid(&t);
        assert_eq!(t.tags.len(), tags::MAX_TAGS_PER_RESOURCE);
        for k in ESSENTIAL {
            assert!(t.tags.contains_key(k), "{k} is kept");
        }
        assert_eq!(t.tags[tags::RESTART], "on-failure");
        assert_eq!(t.tags[tags::REPLACES], "1000000");
        assert_eq!(
            crate::model::revision::revision_number(&t.tags[tags::REPLACES]),
            1_000_000
        );
        // 5 essentials + the opt-in leave room for 44 of the base's 49 others; the image tag
        // gives way too.
        assert!(!t.tags.contains_key(tags::IMAGE_TAG));
        let dropped_user: Vec<&String> = t
            .left_out
            .iter()
            .filter(|k| !k.starts_with("aws:"))
            .collect();
        assert_eq!(dropped_user.len(), 5, "{:?}", t.left_out);
        assert!(
            dropped_user.iter().all(|k| k.starts_with("4")),
            "the last keys give way"
        );
        assert_eq!(t.left_out.len(), 15);
    }

    #[test]
    fn a_long_image_tag_is_cut_to_the_value_limit_when_there_is_room() {
        let t = copy_tags(
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7",
            &BTreeMap::new(),
            ours(&"t".repeat(300)),
        );
        valid(&t);
        assert_eq!(
            t.tags[tags::IMAGE_TAG].chars().count(),
            tags::MAX_VALUE_CHARS
        );
    }

    #[test]
    fn replaces_names_the_base_in_the_longest_form_that_fits() {
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
        assert_eq!(replaces_value(arn), arn);
        let family = "f".repeat(200);
        let long =
            format!("arn:aws-us-gov:ecs:us-gov-west-1:123456789012:task-definition/{family}:12");
        assert_eq!(replaces_value(&long), format!("{family}:12"));
        assert_eq!(replaces_value(&longest_arn()), "1000000");
    }
}
