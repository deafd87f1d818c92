//! The rules a sender number's settings follow, for every way of adding or changing one
//! (`opencams number`, the console).

use opencams_domain::PhoneNumber;
use opencams_store::{Account, CloudSettings, NewNumber, Secret, Store, StoreError};

/// Messages per second a number may be given.
pub const THROUGHPUT: std::ops::RangeInclusive<u32> = 1..=1000;

/// A throughput in [`THROUGHPUT`], or the sentence saying so, naming the field as the caller
/// calls it (`--throughput`, `Throughput`).
pub fn check_throughput(field: &str, throughput: u32) -> Result<u32, String> {
    if THROUGHPUT.contains(&throughput) {
        return Ok(throughput);
    }
    Err(format!(
        "{field} {throughput} is out of range: use {} to {} messages per second",
        THROUGHPUT.start(),
        THROUGHPUT.end()
    ))
}

/// What a new number is asked to be; the names of its fields as the asker calls them are in
/// [`Fields`].
#[derive(Debug, Clone, Default)]
pub struct NumberRequest {
    pub phone: String,
    /// `simulator` or `whatsapp-cloud`.
    pub channel: String,
    /// `None`: the account's default space.
    pub space: Option<String>,
    pub verified_name: String,
    pub throughput: u32,
    pub phone_number_id: Option<String>,
    pub waba_id: Option<String>,
    pub access_token: Option<String>,
    pub app_secret: Option<String>,
    pub api_base: Option<String>,
    pub api_version: Option<String>,
}

/// How the asker names each field in its messages (`--space` on the command line, `Space` in
/// the console).
pub struct Fields {
    pub phone: &'static str,
    pub channel: &'static str,
    pub space: &'static str,
    pub throughput: &'static str,
    pub cloud: &'static str,
    pub api_base: &'static str,
}

/// Absent when empty or blank.
fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// A number for `account` as `req` asks, checked: a sender number, a known channel, a space of
/// the account, a throughput in range, and for the Cloud API its ids, token and an http(s) API
/// base. The inner error is the sentence for the asker.
pub async fn new_number(
    store: &dyn Store,
    account: &Account,
    req: NumberRequest,
    fields: &Fields,
) -> Result<Result<NewNumber, String>, StoreError> {
    let phone = match PhoneNumber::parse_sender(fields.phone, &req.phone) {
        Ok(p) => p.to_string(),
        Err(e) => return Ok(Err(e.message)),
    };
    let throughput = match check_throughput(fields.throughput, req.throughput) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let space_id = match given(&req.space) {
        Some(s) => {
            let owned = store.list_spaces(Some(account.id)).await?;
            if !owned.iter().any(|o| o.id == s) {
                return Ok(Err(format!(
                    "{} {s:?} is not a space of account {}",
                    fields.space, account.name
                )));
            }
            s
        }
        None => account.default_space.clone(),
    };
    let cloud = match req.channel.as_str() {
        "simulator" => None,
        "whatsapp-cloud" => {
            let (Some(pid), Some(waba), Some(token)) = (
                given(&req.phone_number_id),
                given(&req.waba_id),
                given(&req.access_token),
            ) else {
                return Ok(Err(format!(
                    "{} whatsapp-cloud needs {}",
                    fields.channel, fields.cloud
                )));
            };
            let api_base = given(&req.api_base);
            if let Some(base) = &api_base
                && !(base.starts_with("http://") || base.starts_with("https://"))
            {
                return Ok(Err(format!(
                    "{} {base:?} must be an http(s) URL",
                    fields.api_base
                )));
            }
            Some(CloudSettings {
                phone_number_id: pid,
                waba_id: waba,
                access_token: Some(Secret::new(token)),
                app_secret: given(&req.app_secret).map(Secret::new),
                api_base,
                api_version: given(&req.api_version),
            })
        }
        other => {
            return Ok(Err(format!(
                "{} {other:?} is not a channel: use simulator or whatsapp-cloud",
                fields.channel
            )));
        }
    };
    Ok(Ok(NewNumber {
        account_id: account.id,
        space_id,
        phone,
        channel: req.channel,
        verified_name: req.verified_name.trim().to_string(),
        throughput_mps: throughput,
        cloud,
    }))
}

/// What may be shown of a stored secret (a Cloud API access token, an app secret): the first
/// eight hex digits of its SHA-256, enough to tell which one is in use (after a rotation, say)
/// and nothing an attacker could use.
pub fn fingerprint(secret: &opencams_store::Secret) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(secret.expose().as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_fingerprint_tells_secrets_apart_and_shows_none() {
        let a = super::fingerprint(&opencams_store::Secret::new("EAAG-first-token"));
        let b = super::fingerprint(&opencams_store::Secret::new("EAAG-second-token"));
        assert_ne!(a, b);
        assert_eq!(a.len(), "sha256:".len() + 8);
        assert!(!a.contains("EAAG"));
    }
}
