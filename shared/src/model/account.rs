//! An AWS account as organization mode names it: its 12-digit id and, where it could be read,
//! its alias.

use serde::Serialize;

/// A member account the functions act in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    /// The account's IAM alias (`ListAccountAliases`), when it has one and it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

impl Account {
    pub fn new(id: impl Into<String>, alias: Option<String>) -> Self {
        Account {
            id: id.into(),
            alias,
        }
    }

    /// How chat names it, shortest first: the alias, else the id.
    pub fn short(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.id)
    }

    /// How chat names it in full: `alias (id)`, or the id alone.
    pub fn full(&self) -> String {
        match &self.alias {
            Some(alias) => format!("{alias} ({})", self.id),
            None => self.id.clone(),
        }
    }
}

/// Whether `id` is an AWS account id: exactly 12 ASCII digits.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_named_by_its_alias_and_id_or_by_its_id_alone() {
        let named = Account::new("111111111111", Some("shop-prod".into()));
        assert_eq!(named.short(), "shop-prod");
        assert_eq!(named.full(), "shop-prod (111111111111)");
        let bare = Account::new("222222222222", None);
        assert_eq!(bare.short(), "222222222222");
        assert_eq!(bare.full(), "222222222222");
    }

    #[test]
    fn an_account_id_is_twelve_digits_exactly() {
        assert!(is_account_id("012345678901"));
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "１２３４５６７８９０１２",
        ] {
            assert!(!is_account_id(bad), "{bad:?}");
        }
    }
}
