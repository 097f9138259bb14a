//! What organization mode needs of AWS, in its own terms, and its implementation for
//! [`Hub`]: the hub's own clients and the role assumed in each member account.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use aws_credential_types::provider::future;
use aws_sdk_sts::config::ProvideCredentials;

use aws_config::SdkConfig;
use aws_sdk_sts::config::SharedCredentialsProvider;

use crate::aws::{iam, sns, sts, CallLog, Clients};
use crate::error::Result;
use crate::model::account::Account;
use crate::notify::Notification;
use crate::ports::{Calls, Publish};
use crate::tags;

/// What came of trying to act in an account.
pub enum Opened<P, S> {
    /// The role was assumed: the ports acting there, the account as chat names it, and the
    /// session that keeps the role's credentials.
    Ready(P, Account, S),
    /// The role could not be assumed, and will not be until someone acts (`AccessDenied`: the
    /// role is missing or does not trust the hub; `RegionDisabledException`).
    Unreachable { code: String, message: String },
}

/// The member accounts, as the hub reaches them.
pub trait Spokes: Publish + Calls {
    /// What a job acting in one account is built on.
    type Ports: Send + Sync;
    /// The role assumed in one account, which renews its credentials.
    type Session: Clone + Send + Sync;

    /// Assumes `role_arn` in `account` (one STS call) and reads the account's alias (one
    /// call; an alias that cannot be read leaves the account named by its id). Any failure but
    /// the account being unreachable is an error (throttling, 5xx: retried).
    fn open(
        &self,
        account: &str,
        role_arn: &str,
    ) -> impl Future<Output = Result<Opened<Self::Ports, Self::Session>>> + Send;

    /// Whether the session's role can still be assumed: `None` while its credentials hold (no
    /// call) or after renewing them, `Some((code, message))` when the account cannot be
    /// reached any more (the role deleted or its trust changed since).
    fn renew(
        &self,
        session: &Self::Session,
    ) -> impl Future<Output = Result<Option<(String, String)>>> + Send;

    /// The accounts already reported unreachable, with the error code they were reported for.
    fn reported(
        &self,
        topic_arn: &str,
    ) -> impl Future<Output = Result<BTreeMap<String, String>>> + Send;

    /// Remembers that `account` was reported unreachable for `code`.
    fn remember(
        &self,
        topic_arn: &str,
        account: &str,
        code: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Forgets it (the account is reachable again).
    fn forget(&self, topic_arn: &str, account: &str) -> impl Future<Output = Result<()>> + Send;
}

/// The hub's side of AWS: its own clients, the base configuration the member accounts'
/// clients are built from, and the name the hub's sessions carry in the accounts' CloudTrail.
#[derive(Clone, Debug)]
pub struct Hub {
    pub clients: Clients,
    pub sdk: SdkConfig,
    pub session_name: String,
}

impl Calls for Hub {
    fn calls(&self) -> &CallLog {
        &self.clients.calls
    }
}

impl Publish for Hub {
    async fn publish(&self, topic_arn: &str, n: &Notification) -> Result<String> {
        self.clients.publish(topic_arn, n).await
    }
}

/// The role assumed in one account, shared by its clients (as their credentials) and the hub.
#[derive(Clone, Debug)]
pub struct Session(Arc<sts::AssumedRole>);

impl ProvideCredentials for Session {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.0.provide_credentials()
    }
}

impl Spokes for Hub {
    type Ports = Clients;
    type Session = Session;

    async fn open(&self, account: &str, role_arn: &str) -> Result<Opened<Clients, Session>> {
        let role = sts::AssumedRole::new(
            (*self.clients.sts).clone(),
            role_arn.to_string(),
            self.session_name.clone(),
        );
        if let Err(e) = role.credentials().await {
            return if sts::is_unreachable(&e) {
                Ok(Opened::Unreachable {
                    code: e.code().to_string(),
                    message: e.to_string(),
                })
            } else {
                Err(e)
            };
        }
        let session = Session(Arc::new(role));
        let spoke = self
            .sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(session.clone()))
            .build();
        let bare = self.clients.in_account(&spoke, Account::new(account, None));
        let alias = iam::account_alias(&bare.iam)
            .await
            .inspect_err(|e| tracing::warn!(account, error = %e, "the account's alias could not be read; it is named by its id"))
            .ok()
            .flatten();
        let named = Account::new(account, alias);
        Ok(Opened::Ready(
            Clients {
                account: Some(named.clone()),
                ..bare
            },
            named,
            session,
        ))
    }

    async fn renew(&self, session: &Session) -> Result<Option<(String, String)>> {
        match session.0.credentials().await {
            Ok(_) => Ok(None),
            Err(e) if sts::is_unreachable(&e) => Ok(Some((e.code().to_string(), e.to_string()))),
            Err(e) => Err(e),
        }
    }

    async fn reported(&self, topic_arn: &str) -> Result<BTreeMap<String, String>> {
        Ok(sns::topic_tags(&self.clients.sns, topic_arn)
            .await?
            .into_iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(tags::UNREACHABLE_PREFIX)?.to_string(), v)))
            .collect())
    }

    async fn remember(&self, topic_arn: &str, account: &str, code: &str) -> Result<()> {
        let key = format!("{}{account}", tags::UNREACHABLE_PREFIX);
        sns::tag_topic(&self.clients.sns, topic_arn, &key, code).await
    }

    async fn forget(&self, topic_arn: &str, account: &str) -> Result<()> {
        let key = format!("{}{account}", tags::UNREACHABLE_PREFIX);
        sns::untag_topic(&self.clients.sns, topic_arn, &key).await
    }
}
