//! Callback URLs must not reach into the server's own network. The rule (which addresses and
//! names are refused, unless `--allow-private-callbacks`) is the domain's
//! (`opencams_domain::callback_url`), checked when a URL is configured; here it is applied again
//! when delivering, after DNS resolution (the resolver below only hands allowed addresses to the
//! HTTP client, so a name cannot be re-pointed between check and use).

use std::net::SocketAddr;
use std::sync::Arc;

pub use opencams_domain::callback_url::{MAX_URL_LEN, check_url, is_forbidden};

/// A DNS resolver for the callback client that drops forbidden addresses.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| allow || !is_forbidden(a.ip()))
                .collect();
            if allowed.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = format!(
                    "{host} resolves only to refused addresses ({}); callbacks go to public addresses only",
                    all.iter().map(|a| a.ip().to_string()).collect::<Vec<_>>().join(", ")
                )
                .into();
                return Err(err);
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The resolver as the client builder takes it.
pub fn resolver(allow_private: bool) -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver { allow_private })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[tokio::test]
    async fn resolver_drops_forbidden_addresses() {
        use reqwest::dns::Resolve;
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        assert!(resolver(false).resolve(name).await.is_err());
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let addrs: Vec<_> = resolver(true).resolve(name).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
