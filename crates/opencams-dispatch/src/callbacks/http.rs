//! One signed POST of a callback batch. No redirects are followed (a redirect could lead to a
//! refused address), the whole exchange is bounded by a timeout, and the status decides: 2xx is
//! accepted, anything else is a failure to retry. The start of the receiver's answer is kept
//! for the delivery log; the rest of a long body is not read.

use std::time::Duration;

use opencams_protocol::callback_sign;
use opencams_store::{ATTEMPT_ANSWER_MAX, excerpt};

use super::ssrf;

/// The HTTP client callbacks go out with.
pub fn client(timeout: Duration, allow_private: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(ssrf::resolver(allow_private))
        .user_agent(concat!("opencams-callbacks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// What the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The start of the body (at most [`ATTEMPT_ANSWER_MAX`] bytes, cut on a char boundary;
    /// bytes that are not UTF-8 are replaced).
    pub body: String,
}

/// Why a batch was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What went wrong, in one line (`HTTP 503`, or the request's error with its causes).
    pub error: String,
    /// The receiver's answer, when one came (a status other than 2xx).
    pub answer: Option<Answer>,
}

/// Posts `body` (a JSON array) signed with `secret`; `Ok` only for a 2xx answer.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    secret: &str,
    now_secs: i64,
    allow_private: bool,
) -> Result<Answer, Failure> {
    let no_answer = |error: String| Failure {
        error,
        answer: None,
    };
    // literal addresses never reach the resolver, so they are checked here, at delivery time
    let url = ssrf::check_url(url, allow_private).map_err(no_answer)?;
    let signature = callback_sign::sign(secret, now_secs, &body);
    let mut resp = client
        .post(url)
        .header("Content-Type", "application/json")
        .header(callback_sign::TIMESTAMP_HEADER, now_secs.to_string())
        .header(callback_sign::SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .map_err(|e| no_answer(chain(&e)))?;
    let status = resp.status();
    let answer = Answer {
        status: status.as_u16(),
        body: body_start(&mut resp).await,
    };
    if status.is_success() {
        Ok(answer)
    } else {
        Err(Failure {
            error: format!("HTTP {}", status.as_u16()),
            answer: Some(answer),
        })
    }
}

/// The start of a response's body: read until more than [`ATTEMPT_ANSWER_MAX`] bytes came (or
/// the body ended), so a long answer costs one chunk, not its length. A body that fails midway
/// (or times out) keeps what came. A body left unread closes its connection instead of
/// returning it to the pool; callback answers are short, so that is rare.
async fn body_start(resp: &mut reqwest::Response) -> String {
    let mut bytes: Vec<u8> = Vec::new();
    while bytes.len() <= ATTEMPT_ANSWER_MAX {
        match resp.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    text_start(&bytes)
}

/// `bytes` as text, cut to [`ATTEMPT_ANSWER_MAX`] bytes on a char boundary. Cutting the text,
/// not the bytes, keeps a char split by the cut from turning into a replacement char.
fn text_start(bytes: &[u8]) -> String {
    excerpt(&String::from_utf8_lossy(bytes), ATTEMPT_ANSWER_MAX).to_string()
}

/// An error with its causes, which is where reqwest says what actually went wrong.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_cut_on_a_char_boundary() {
        assert_eq!(text_start(b"{\"ok\":true}"), "{\"ok\":true}");
        // a three-byte char straddling byte 512 is left out, not replaced
        let mut long = vec![b'a'; 511];
        long.extend_from_slice("€€".as_bytes());
        assert_eq!(text_start(&long), "a".repeat(511));
        // bytes that are not UTF-8 become replacement chars
        assert_eq!(text_start(&[b'o', 0xff, b'k']), "o\u{fffd}k");
    }
}
