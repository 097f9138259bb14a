//! `ECR Image Action` (source `aws.ecr`).

use serde::{Deserialize, Serialize};

crate::string_enum! {
    /// What happened to the image.
    pub enum ActionType { Push = "PUSH", Delete = "DELETE" }
}

crate::string_enum! {
    /// Whether the action succeeded.
    pub enum PushResult { Success = "SUCCESS", Failure = "FAILURE" }
}

/// The detail of an `ECR Image Action` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct EcrImageAction {
    pub action_type: ActionType,
    pub result: PushResult,
    pub repository_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_media_type: Option<String>,
}

/// Manifest media types of runnable images (single-platform manifests and multi-platform indexes).
const IMAGE_MANIFESTS: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

/// Config media types of runnable images; any other artifact type is a signature, an
/// attestation, an SBOM or some other non-runnable artifact.
const IMAGE_CONFIGS: &[&str] = &[
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.image.config.v1+json",
];

impl EcrImageAction {
    /// Whether this push is a successful push.
    pub fn is_successful_push(&self) -> bool {
        self.action_type == ActionType::Push && self.result == PushResult::Success
    }

    /// `None` when the pushed artifact is a runnable image, else why it is not.
    pub fn not_an_image(&self) -> Option<String> {
        if let Some(m) = &self.manifest_media_type {
            if !IMAGE_MANIFESTS.contains(&m.as_str()) {
                return Some(format!("manifest media type {m} is not a container image"));
            }
        }
        if let Some(a) = &self.artifact_media_type {
            if !IMAGE_CONFIGS.contains(&a.as_str()) {
                return Some(format!("artifact media type {a} is not a container image"));
            }
        }
        // Cosign and similar tools push signatures, attestations and SBOMs under tags
        // derived from the image digest: sha256-<hex>.sig / .att / .sbom.
        if let Some(tag) = &self.image_tag {
            if let Some((head, kind)) = tag.rsplit_once('.') {
                if head.starts_with("sha256-") && ["sig", "att", "sbom"].contains(&kind) {
                    return Some(format!("tag {tag} is a {kind} artifact of another image"));
                }
            }
        }
        None
    }
}
