//! IAM: a member account's alias, to name the account in chat (organization mode).
//!
//! "ListAccountAliases" (IAM API reference): an account has at most one alias; the list is
//! empty when it has none. The action has no resource-level permissions (Resource "*").

use crate::error::{Error, Result};

/// The account's alias, or `None` when it has none.
pub async fn account_alias(client: &aws_sdk_iam::Client) -> Result<Option<String>> {
    let out = client
        .list_account_aliases()
        .send()
        .await
        .map_err(|e| Error::aws("ListAccountAliases", e))?;
    Ok(out.account_aliases.into_iter().next())
}
