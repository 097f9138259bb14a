//! STS: the role the hub's functions assume in a member account (organization mode).
//!
//! "AssumeRole" (STS API reference): the answer carries temporary credentials and their
//! `Expiration`; a role that does not exist, or whose trust policy does not admit the caller,
//! answers `AccessDenied` (HTTP 403) alike, and a region STS is not activated in for the account
//! answers `RegionDisabledException`. Those two mean the account cannot be reached until someone
//! acts ([`is_unreachable`]); throttling and 5xx are retried like any other call.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::future;
use aws_sdk_sts::config::{Credentials, ProvideCredentials};

use crate::error::{Error, Result};

/// How long the credentials are asked for: STS's default and the role's default maximum, so a
/// spoke role needs no `MaxSessionDuration` of its own.
pub const SESSION_SECONDS: i32 = 3600;
/// Credentials this close to their expiry are renewed before a call uses them.
pub const RENEW_BEFORE: Duration = Duration::from_secs(300);

/// The codes of an `AssumeRole` that fails until someone installs or fixes the role.
pub fn is_unreachable(e: &Error) -> bool {
    matches!(
        e.aws_code(),
        Some("AccessDenied" | "AccessDeniedException" | "RegionDisabledException")
    )
}

/// One member account's role: assumed on first use, its credentials kept until
/// [`RENEW_BEFORE`] their expiry, then assumed again. The SDK clients of that account take it
/// as their credentials provider, so the credentials live as long as the process does.
#[derive(Debug)]
pub struct AssumedRole {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    session_name: String,
    held: Mutex<Option<Credentials>>,
}

impl AssumedRole {
    pub fn new(sts: aws_sdk_sts::Client, role_arn: String, session_name: String) -> Self {
        AssumedRole {
            sts,
            role_arn,
            session_name,
            held: Mutex::new(None),
        }
    }

    /// The credentials held, if they are good for [`RENEW_BEFORE`] more; else assumes the role.
    pub async fn credentials(&self) -> Result<Credentials> {
        if let Some(held) = self.held() {
            return Ok(held);
        }
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .duration_seconds(SESSION_SECONDS)
            .send()
            .await
            .map_err(|e| Error::aws("AssumeRole", e))?;
        let given = out.credentials.ok_or_else(|| Error::UnexpectedResponse {
            operation: "AssumeRole",
            detail: "no Credentials".into(),
        })?;
        let expiry =
            SystemTime::try_from(given.expiration).map_err(|e| Error::UnexpectedResponse {
                operation: "AssumeRole",
                detail: format!("Credentials.Expiration: {e}"),
            })?;
        let credentials = Credentials::new(
            given.access_key_id,
            given.secret_access_key,
            Some(given.session_token),
            Some(expiry),
            "autopilot-spoke-role",
        );
        if let Ok(mut held) = self.held.lock() {
            *held = Some(credentials.clone());
        }
        Ok(credentials)
    }

    fn held(&self) -> Option<Credentials> {
        let held = self.held.lock().ok()?.clone()?;
        let good_until = held.expiry()?.checked_sub(RENEW_BEFORE)?;
        (SystemTime::now() < good_until).then_some(held)
    }
}

impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.credentials()
                .await
                .map_err(CredentialsError::provider_error)
        })
    }
}

/// The session name the hub's calls show in the member account's CloudTrail: the function's
/// name, within STS's 64 characters of `[\w+=,.@-]`.
pub fn session_name(function: &str) -> String {
    let name: String = function
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.len() < 2 {
        "fargate-autopilot".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fake_http::{sts_client, Scripted};

    const ROLE: &str = "arn:aws:iam::111111111111:role/fargate-autopilot-deployer";

    /// An AssumeRole answer as STS sends it (query protocol, XML; "AssumeRole", STS API
    /// reference, Examples), expiring `expires` from now.
    fn assumed(expires: Duration) -> (u16, String) {
        let at = chrono::DateTime::<chrono::Utc>::from(SystemTime::now() + expires)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        (
            200,
            format!(
                r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::111111111111:assumed-role/fargate-autopilot-deployer/deployer</Arn>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:deployer</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAJEXAMPLEXEG2JICEA</AccessKeyId>
      <SecretAccessKey>9drTJvcXLB89EXAMPLELB8923FB892xMFI</SecretAccessKey>
      <SessionToken>AQoXdzELDDY//////////wEaoAK1wvxJY12r2IrDFT2IvAzTCn3zHoZ7YNtpiQLF0MqZye/qwjzP2iEXAMPLEbw/m3hsj8VBTkPORGvr9jM5sgP+w9IZWZnU+LWhmg+a5fDi2oTGUYcdg9uexQ4mtCHIHfi4citgqZTgco40Yqr4lIlo4V2b2Dyauk0eYFNebHtYlFVgAUj+7Indz3LU0aTWk1WKIjHmmMCIoTkyYp/k7kUG7moeEYKSitwQIi6Gjn+nyzM+PtoA3685ixzv0R7i5rjQi0YE0lf1oeie3bDiNHncmzosRM6SFiPzSvp6h/32xQuZsjcypmwsPSDtTPYcs0+YN/8BRi2/IcrxSpnWEXAMPLEXSDFTAQAM6Dl9zR0tXoybnlrZIwMLlMi1Kcgo5OytwU=</SessionToken>
      <Expiration>{at}</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>"#
            ),
        )
    }

    /// STS's answer to a role that does not exist or does not trust the caller (HTTP 403).
    fn denied() -> (u16, String) {
        (
            403,
            r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>User: arn:aws:sts::999999999999:assumed-role/hub-deployer/hub is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/fargate-autopilot-deployer</Message>
  </Error>
  <RequestId>4f4b4c4e-0000-4000-8000-000000000000</RequestId>
</ErrorResponse>"#
                .to_string(),
        )
    }

    #[tokio::test]
    async fn credentials_are_assumed_once_and_kept_until_near_their_expiry() {
        let http = Scripted::new(vec![assumed(Duration::from_secs(3600))]);
        let role = AssumedRole::new(sts_client(&http), ROLE.into(), "deployer".into());
        let first = role.credentials().await.expect("assumed");
        assert_eq!(first.access_key_id(), "ASIAJEXAMPLEXEG2JICEA");
        assert!(first.session_token().is_some());
        role.credentials().await.expect("kept");
        role.provide_credentials().await.expect("kept");
        assert_eq!(http.requests(), 1);
        let sent = &http.bodies()[0];
        assert!(sent.contains("Action=AssumeRole"), "{sent}");
        assert!(sent.contains("RoleSessionName=deployer"), "{sent}");
        assert!(sent.contains("DurationSeconds=3600"), "{sent}");
    }

    #[tokio::test]
    async fn credentials_about_to_expire_are_assumed_again() {
        let http = Scripted::new(vec![
            assumed(RENEW_BEFORE - Duration::from_secs(1)),
            assumed(Duration::from_secs(3600)),
        ]);
        let role = AssumedRole::new(sts_client(&http), ROLE.into(), "deployer".into());
        role.credentials().await.expect("assumed");
        role.credentials().await.expect("assumed again");
        assert_eq!(http.requests(), 2);
    }

    #[tokio::test]
    async fn a_role_that_is_missing_or_denies_the_hub_makes_the_account_unreachable() {
        let http = Scripted::new(vec![denied()]);
        let role = AssumedRole::new(sts_client(&http), ROLE.into(), "deployer".into());
        let e = role.credentials().await.unwrap_err();
        assert!(is_unreachable(&e), "{e:?}");
        assert_eq!(e.code(), "AccessDenied");
        assert!(!e.is_retryable());
        assert!(
            e.to_string()
                .contains("not authorized to perform: sts:AssumeRole"),
            "{e}"
        );
        assert_eq!(http.requests(), 1, "not retried");
    }

    #[tokio::test]
    async fn a_throttled_assume_role_is_an_error_to_retry_not_an_unreachable_account() {
        let throttled = (
            400,
            r#"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>"#.to_string(),
        );
        let http = Scripted::new(vec![throttled.clone(), throttled.clone(), throttled]);
        let role = AssumedRole::new(sts_client(&http), ROLE.into(), "deployer".into());
        let e = role.credentials().await.unwrap_err();
        assert!(!is_unreachable(&e), "{e:?}");
        assert!(e.is_retryable(), "{e:?}");
    }

    #[test]
    fn the_session_name_keeps_to_what_sts_allows() {
        assert_eq!(
            session_name("platform-prod-deployer"),
            "platform-prod-deployer"
        );
        assert_eq!(session_name("a b/c"), "a-b-c");
        assert_eq!(session_name(&"x".repeat(80)).len(), 64);
        assert_eq!(session_name("x"), "fargate-autopilot");
    }
}
