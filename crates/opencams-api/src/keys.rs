//! The rules an access key's limits follow, for every way of creating one (`opencams key
//! create`, the console): each listed action must be one this server serves, each listed space
//! one of the key's account, and a list, when given, must name something (leaving it out allows
//! everything).

use opencams_store::{Account, NewKey, Store, StoreError};

/// Why a key's limits are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitError {
    NoActions,
    UnknownAction(String),
    NoSpaces,
    ForeignSpace(String),
}

impl LimitError {
    /// The sentence for a user, naming the field as the caller calls it (`--actions`,
    /// `Actions`).
    pub fn describe(&self, actions: &str, spaces: &str, account: &Account) -> String {
        match self {
            Self::NoActions => format!(
                "{actions} is empty: name at least one action, or leave it out to allow all"
            ),
            Self::UnknownAction(a) => format!(
                "{actions}: unknown action {a:?}; known: {}",
                crate::actions::ACTIONS.join(", ")
            ),
            Self::NoSpaces => {
                format!("{spaces} is empty: name at least one space, or leave it out to allow all")
            }
            Self::ForeignSpace(s) => {
                format!("{spaces}: {s:?} is not a space of account {}", account.name)
            }
        }
    }
}

/// Trimmed, without empty entries.
fn cleaned(list: Option<Vec<String>>) -> Option<Vec<String>> {
    list.map(|l| {
        l.into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// A key for `account` limited to `actions` and `spaces` (each `None`: all), checked.
pub async fn new_key(
    store: &dyn Store,
    account: &Account,
    actions: Option<Vec<String>>,
    spaces: Option<Vec<String>>,
) -> Result<Result<NewKey, LimitError>, StoreError> {
    let (actions, spaces) = (cleaned(actions), cleaned(spaces));
    if let Some(list) = &actions {
        if list.is_empty() {
            return Ok(Err(LimitError::NoActions));
        }
        if let Some(a) = list.iter().find(|a| !crate::actions::is_known(a)) {
            return Ok(Err(LimitError::UnknownAction(a.clone())));
        }
    }
    if let Some(list) = &spaces {
        if list.is_empty() {
            return Ok(Err(LimitError::NoSpaces));
        }
        let owned = store.list_spaces(Some(account.id)).await?;
        if let Some(s) = list.iter().find(|s| !owned.iter().any(|o| &o.id == *s)) {
            return Ok(Err(LimitError::ForeignSpace(s.clone())));
        }
    }
    Ok(Ok(NewKey {
        account_id: account.id,
        actions,
        spaces,
    }))
}
