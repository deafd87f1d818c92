//! What an action knows of its caller, and the checks every action shares: which space a call
//! acts on (`CustSpaceId`, its deprecated alias `CustWabaId`, else the account's default space)
//! and whether the key may touch it.

use std::sync::Arc;

use opencams_protocol::{CamsError, Code, Params};
use opencams_store::Space;

use crate::principal::Principal;
use crate::state::AppState;

pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub principal: Arc<Principal>,
    pub action: &'a str,
    pub params: &'a Params,
}

impl Ctx<'_> {
    pub fn account_id(&self) -> i64 {
        self.principal.account.id
    }

    pub fn now_ms(&self) -> i64 {
        self.state.clock.now_ms()
    }

    /// The space the call acts on, checked for ownership and key scope.
    pub async fn space(&self) -> Result<Space, CamsError> {
        let requested = self
            .params
            .get("CustSpaceId")
            .or_else(|| self.params.get("CustWabaId"));
        let id = requested.unwrap_or(&self.principal.account.default_space);
        let space = self.state.cache.space(id).await.map_err(internal)?;
        let space = match space {
            Some(s) if s.account_id == self.principal.account.id => s,
            _ => {
                return Err(CamsError::new(
                    Code::UnknownResourceOwnerId,
                    format!(
                        "The resource does not belong to the current user: CustSpaceId {id:?} is not a space of this account."
                    ),
                ));
            }
        };
        if let Some(allowed) = &self.principal.key.spaces
            && !allowed.iter().any(|s| s == &space.id)
        {
            return Err(CamsError::new(
                Code::RamPermissionDeny,
                format!(
                    "This AccessKey is not allowed to act on space {}; allowed: {}.",
                    space.id,
                    allowed.join(", ")
                ),
            ));
        }
        Ok(space)
    }
}

/// Logs an unexpected failure and answers the opaque `InternalError`; a store that cannot reach
/// its database now (or is closing) answers `ServiceUnavailable` (503: try again later) instead.
pub fn internal<E: std::fmt::Display + 'static>(e: E) -> CamsError {
    use opencams_store::StoreError;
    // the call sites pass store errors and a few encoding errors alike: only the first can say
    // "try again later"
    let store = (&e as &dyn std::any::Any).downcast_ref::<StoreError>();
    if matches!(store, Some(StoreError::Unavailable(_) | StoreError::Closed)) {
        tracing::warn!(error = %e, "the database is unavailable");
        return CamsError::of(Code::ServiceUnavailable);
    }
    tracing::error!(error = %e, "internal error");
    CamsError::of(Code::InternalError)
}
