//! Organization mode's configuration: present only in a hub's functions.

use crate::config::Env;
use crate::error::{Error, Result};
use crate::model::arn::Arn;

/// The placeholder `SPOKE_ROLE_ARN` carries where the member account's id goes.
pub const ACCOUNT_PLACEHOLDER: &str = "{account}";

/// Where the hub's functions act: in each member account, through the role they assume there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgConfig {
    /// The role's ARN with `{account}` for the account id, e.g.
    /// `arn:aws:iam::{account}:role/fargate-autopilot-deployer`.
    pub role_arn: String,
    /// The chat topic (the hub's), where an account that cannot be reached is reported.
    pub topic_arn: String,
    /// The hub's event bus, named in the command that installs a spoke (`HUB_BUS_ARN`).
    pub hub_bus_arn: Option<String>,
}

impl OrgConfig {
    /// `None` when `SPOKE_ROLE_ARN` is not set: the function serves its own account.
    pub fn from_env() -> Result<Option<Self>> {
        Self::from(&Env::process())
    }

    pub fn from(env: &Env<'_>) -> Result<Option<Self>> {
        const VAR: &str = "SPOKE_ROLE_ARN";
        let Some(role_arn) = env.optional(VAR) else {
            return Ok(None);
        };
        let role_arn = role_arn.trim().to_string();
        let bad = |why: &str| {
            Error::Config {
            var: VAR,
            message: format!("{why}, got {role_arn:?} (e.g. arn:aws:iam::{ACCOUNT_PLACEHOLDER}:role/fargate-autopilot-deployer)"),
        }
        };
        let Some(arn) = Arn::parse(&role_arn).filter(|a| a.service == "iam" && a.region.is_empty())
        else {
            return Err(bad("must be an IAM role ARN"));
        };
        if arn.account != ACCOUNT_PLACEHOLDER {
            return Err(bad("must hold {account} where the account id goes"));
        }
        match arn.resource.strip_prefix("role/") {
            Some(name) if !name.is_empty() && !name.contains(ACCOUNT_PLACEHOLDER) => {}
            _ => return Err(bad("must name a role (role/<name>)")),
        }
        Ok(Some(OrgConfig {
            role_arn,
            topic_arn: env.topic_arn("NOTIFY_TOPIC_ARN")?,
            hub_bus_arn: env.optional("HUB_BUS_ARN").filter(|v| !v.trim().is_empty()),
        }))
    }

    /// The role to assume in `account`.
    pub fn role_in(&self, account: &str) -> String {
        self.role_arn.replace(ACCOUNT_PLACEHOLDER, account)
    }

    /// The role's name (its ARN's last part, after any path).
    pub fn role_name(&self) -> &str {
        self.role_arn.rsplit('/').next().unwrap_or(&self.role_arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:eu-west-1:999999999999:chat";

    fn read(pairs: &[(&str, &str)]) -> Result<Option<OrgConfig>> {
        OrgConfig::from(&Env::from_pairs(pairs))
    }

    #[test]
    fn without_a_spoke_role_the_function_serves_its_own_account() {
        assert_eq!(read(&[("NOTIFY_TOPIC_ARN", TOPIC)]).unwrap(), None);
    }

    #[test]
    fn the_spoke_role_is_put_in_each_account() {
        let config = read(&[
            (
                "SPOKE_ROLE_ARN",
                "arn:aws:iam::{account}:role/fargate-autopilot-deployer",
            ),
            ("NOTIFY_TOPIC_ARN", TOPIC),
            (
                "HUB_BUS_ARN",
                "arn:aws:events:eu-west-1:999999999999:event-bus/autopilot",
            ),
        ])
        .unwrap()
        .expect("organization mode");
        assert_eq!(
            config.role_in("111111111111"),
            "arn:aws:iam::111111111111:role/fargate-autopilot-deployer"
        );
        assert_eq!(config.role_name(), "fargate-autopilot-deployer");
        assert_eq!(config.topic_arn, TOPIC);
        assert!(config.hub_bus_arn.is_some());
    }

    #[test]
    fn a_spoke_role_that_is_no_role_arn_with_the_placeholder_is_refused_by_name() {
        for (bad, why) in [
            ("fargate-autopilot-deployer", "must be an IAM role ARN"),
            ("arn:aws:iam::111111111111:role/x", "must hold {account}"),
            ("arn:aws:sts::{account}:role/x", "must be an IAM role ARN"),
            ("arn:aws:iam::{account}:user/x", "must name a role"),
            ("arn:aws:iam::{account}:role/", "must name a role"),
        ] {
            let e = read(&[("SPOKE_ROLE_ARN", bad), ("NOTIFY_TOPIC_ARN", TOPIC)]).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("SPOKE_ROLE_ARN") && text.contains(why),
                "{bad}: {text}"
            );
        }
    }

    #[test]
    fn organization_mode_needs_the_chat_topic() {
        let e = read(&[("SPOKE_ROLE_ARN", "arn:aws:iam::{account}:role/r")]).unwrap_err();
        assert!(e.to_string().contains("NOTIFY_TOPIC_ARN"), "{e}");
    }
}
