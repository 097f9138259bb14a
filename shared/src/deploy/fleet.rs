//! Fleet mode: a service follows a repository because of its own tags (`autopilot:deploy` and
//! friends, see [`crate::tags`]), found through the Resource Groups Tagging API, not because it
//! is named in `DEPLOY_TARGETS`. Pure: the tags in, a target or what is wrong with them out.

use std::collections::BTreeMap;

use super::config::{DeployTarget, Strategy};
use crate::model::arn::Arn;
use crate::tags;

pub use crate::tag_problems::TagProblem;

/// Whether a push of `repository` concerns a service with these tags: its `autopilot:deploy`
/// names that repository (spaces around it aside), or is no repository name at all, a mistake
/// to report on whatever push comes. A service following another repository is not concerned.
pub fn follows(service_tags: &BTreeMap<String, String>, repository: &str) -> bool {
    service_tags
        .get(tags::DEPLOY)
        .map(|v| v.trim())
        .is_some_and(|v| v == repository || !is_repository_name(v))
}

/// The deploy target a service's tags describe.
pub fn target_from_tags(
    service_arn: &str,
    service_tags: &BTreeMap<String, String>,
) -> Result<DeployTarget, TagProblem> {
    let problem = |tag: &str, problem: String| TagProblem {
        service_arn: service_arn.to_string(),
        tag: tag.to_string(),
        value: service_tags.get(tag).cloned().unwrap_or_default(),
        problem,
        reported: false,
    };
    let repository = service_tags
        .get(tags::DEPLOY)
        .map(|r| r.trim())
        .unwrap_or_default();
    if !is_repository_name(repository) {
        return Err(problem(
            tags::DEPLOY,
            "must be an ECR repository name (lower case letters, digits, `.`, `_`, `-`, `/`), without a registry, tag or digest".into(),
        ));
    }
    let (cluster, service) = match Arn::parse(service_arn).and_then(|a| a.ecs_service()) {
        Some((cluster, service)) => (cluster.to_string(), service.to_string()),
        None => {
            return Err(problem(
                tags::DEPLOY,
                "the service has an old short ARN (service/<name>), which names no cluster: migrate it to the long ARN format".into(),
            ))
        }
    };
    let tags_value = service_tags.get(tags::DEPLOY_TAGS).map(|t| t.trim());
    let globs = match tags_value {
        None => vec!["*".to_string()],
        Some(v) => parse_tag_patterns(v).map_err(|e| problem(tags::DEPLOY_TAGS, e))?,
    };
    let container = match service_tags.get(tags::DEPLOY_CONTAINER).map(|c| c.trim()) {
        None => None,
        Some("") => {
            return Err(problem(
                tags::DEPLOY_CONTAINER,
                "must name a container of the task definition".into(),
            ))
        }
        Some(c) => Some(c.to_string()),
    };
    let strategy = match service_tags.get(tags::DEPLOY_STRATEGY).map(|s| s.trim()) {
        None | Some("pin-digest") => Strategy::PinDigest,
        Some("follow-tag") => Strategy::FollowTag,
        Some(_) => {
            return Err(problem(
                tags::DEPLOY_STRATEGY,
                "must be pin-digest or follow-tag".into(),
            ))
        }
    };
    Ok(DeployTarget {
        repository: repository.to_string(),
        tags: globs,
        cluster,
        service,
        container,
        strategy,
    })
}

/// `latest v1.4.2 prefix:release-` as globs (`latest`, `v1.4.2`, `release-*`).
fn parse_tag_patterns(value: &str) -> Result<Vec<String>, String> {
    let mut globs = vec![];
    for word in value.split_whitespace() {
        let (glob, tag) = match word.strip_prefix("prefix:") {
            Some(start) => (format!("{start}*"), start),
            None => (word.to_string(), word),
        };
        // An image tag is letters, digits, `.`, `_` and `-` (ECR), so a glob built from one
        // cannot hold a wildcard by accident.
        if tag.is_empty()
            || !tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(format!(
                "{word:?} is neither an image tag (letters, digits, `.`, `_`, `-`) nor prefix:<start of a tag>"
            ));
        }
        globs.push(glob);
    }
    if globs.is_empty() {
        return Err("names no tag: give tags separated by spaces, e.g. `latest` or `prefix:v`, or remove the tag to follow every tag".into());
    }
    Ok(globs)
}

/// ECR's repository-name pattern: lower-case components separated by `.`, `_`, `-` (each
/// between alphanumerics), optionally in namespaces separated by `/`; 2 to 256 characters.
fn is_repository_name(name: &str) -> bool {
    let component = |c: &str| {
        !c.is_empty()
            && c.split(['.', '_', '-']).all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            })
    };
    // A registry host (`<account>.dkr.ecr.<region>.amazonaws.com/web`) fits the pattern, but
    // the tag wants the name alone.
    (2..=256).contains(&name.len()) && !name.contains(".dkr.ecr.") && name.split('/').all(component)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tags as tags_of;

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/prod/web";

    #[test]
    fn a_service_tagged_with_a_repository_follows_every_tag_with_pin_digest() {
        let t = target_from_tags(ARN, &tags_of(&[(tags::DEPLOY, "web")])).expect("target");
        assert_eq!(
            t,
            DeployTarget {
                repository: "web".into(),
                tags: vec!["*".into()],
                cluster: "prod".into(),
                service: "web".into(),
                container: None,
                strategy: Strategy::PinDigest,
            }
        );
    }

    #[test]
    fn the_tag_vocabulary_becomes_the_same_target_as_deploy_targets() {
        let t = target_from_tags(
            ARN,
            &tags_of(&[
                (tags::DEPLOY, "team/web-api"),
                (tags::DEPLOY_TAGS, " latest  prefix:v  release-2026.11_1 "),
                (tags::DEPLOY_CONTAINER, "app"),
                (tags::DEPLOY_STRATEGY, "follow-tag"),
            ]),
        )
        .expect("target");
        assert_eq!(t.repository, "team/web-api");
        assert_eq!(t.tags, ["latest", "v*", "release-2026.11_1"]);
        assert_eq!(t.container.as_deref(), Some("app"));
        assert_eq!(t.strategy, Strategy::FollowTag);
        assert!(t.matches_tag("v1.4.2") && t.matches_tag("latest"));
        assert!(!t.matches_tag("x1") && !t.matches_tag("latest-rc"));
    }

    #[test]
    fn each_bad_value_names_its_tag_and_what_is_wrong() {
        for (pairs, tag, says) in [
            (vec![(tags::DEPLOY, "Web")], tags::DEPLOY, "repository name"),
            (
                vec![(tags::DEPLOY, "123.dkr.ecr.us-east-1.amazonaws.com/web")],
                tags::DEPLOY,
                "repository name",
            ),
            (
                vec![(tags::DEPLOY, "web:latest")],
                tags::DEPLOY,
                "repository name",
            ),
            (
                vec![(tags::DEPLOY, "web"), (tags::DEPLOY_TAGS, "prefix:")],
                tags::DEPLOY_TAGS,
                "prefix:",
            ),
            (
                vec![(tags::DEPLOY, "web"), (tags::DEPLOY_TAGS, "v1/2")],
                tags::DEPLOY_TAGS,
                "\"v1/2\"",
            ),
            (
                vec![(tags::DEPLOY, "web"), (tags::DEPLOY_TAGS, " ")],
                tags::DEPLOY_TAGS,
                "names no tag",
            ),
            (
                vec![(tags::DEPLOY, "web"), (tags::DEPLOY_STRATEGY, "blue-green")],
                tags::DEPLOY_STRATEGY,
                "pin-digest or follow-tag",
            ),
            (
                vec![(tags::DEPLOY, "web"), (tags::DEPLOY_CONTAINER, " ")],
                tags::DEPLOY_CONTAINER,
                "container",
            ),
        ] {
            let p = target_from_tags(ARN, &tags_of(&pairs)).expect_err("a problem");
            assert_eq!(p.tag, tag, "{pairs:?}");
            assert!(p.problem.contains(says), "{pairs:?}: {}", p.problem);
            assert_eq!(p.service_arn, ARN);
        }
    }

    #[test]
    fn a_push_concerns_the_services_of_its_repository_and_those_whose_value_is_no_name() {
        for (value, concerned) in [
            ("web", true),
            (" web ", true),
            ("api", false),
            ("team/web", false),
            ("Web", true),
            ("web:latest", true),
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com/web", true),
            ("", true),
        ] {
            assert_eq!(
                follows(&tags_of(&[(tags::DEPLOY, value)]), "web"),
                concerned,
                "{value:?}"
            );
        }
        assert!(!follows(&tags_of(&[("team", "web")]), "web"));
        // Spaces around a name are forgiven, as for the other tags.
        let t = target_from_tags(ARN, &tags_of(&[(tags::DEPLOY, "web ")])).expect("target");
        assert_eq!(t.repository, "web");
    }

    #[test]
    fn a_short_service_arn_names_no_cluster() {
        let p = target_from_tags(
            "arn:aws:ecs:us-east-1:123456789012:service/web",
            &tags_of(&[(tags::DEPLOY, "web")]),
        )
        .expect_err("short ARN");
        assert!(p.problem.contains("short ARN"), "{}", p.problem);
    }

    #[test]
    fn the_fingerprint_is_a_valid_tag_value() {
        let p = target_from_tags(
            ARN,
            &tags_of(&[(tags::DEPLOY, "web"), (tags::DEPLOY_STRATEGY, "blue green")]),
        )
        .expect_err("a problem");
        assert_eq!(p.fingerprint(), "autopilot:deploy-strategy=blue green");
        assert!(tags::is_valid_value(&p.fingerprint()));
    }
}
