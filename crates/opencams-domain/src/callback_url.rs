//! Where callbacks may go: an http(s) URL with a host, at most [`MAX_URL_LEN`] characters, no
//! credentials, and not into the server's own network (loopback, private, link-local, shared
//! (CGNAT), multicast and reserved addresses, `localhost`) unless the operator allows private
//! addresses (`--allow-private-callbacks`, for local development and tests). The dispatcher
//! applies [`is_forbidden`] again to the addresses a name resolves to when it delivers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest callback URL accepted.
pub const MAX_URL_LEN: usize = 1024;

/// True for addresses a callback must not reach without the allow flag.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    // IPv4 in IPv6 clothing is judged by the IPv4 address it carries
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
        let v4 = Ipv4Addr::new(
            (seg[6] >> 8) as u8,
            seg[6] as u8,
            (seg[7] >> 8) as u8,
            seg[7] as u8,
        );
        return forbidden_v4(v4);
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local
        || (seg[0] & 0xffc0) == 0xfe80 // link-local
        || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || seg[0..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated) and the like
}

/// Checks a callback URL's form: http(s), a host, at most 1024 characters, and, unless
/// `allow_private`, no literal private address or `localhost` name.
pub fn check_url(raw: &str, allow_private: bool) -> Result<url::Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!(
            "the URL is {} characters long; at most {MAX_URL_LEN} are allowed",
            raw.len()
        ));
    }
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!(
            "scheme {:?} is not allowed; use an http:// or https:// URL",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials in the URL are not allowed".into());
    }
    let Some(host) = url.host_str() else {
        return Err("the URL has no host".into());
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let forbidden = match bare.parse::<IpAddr>() {
        Ok(ip) => is_forbidden(ip),
        Err(_) => {
            let d = bare.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
    };
    if forbidden && !allow_private {
        return Err(
            "the host is a loopback, private or link-local address; callbacks go to public addresses only \
             (the server can be started with --allow-private-callbacks)"
                .into(),
        );
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_addresses() {
        for bad in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
        ] {
            assert!(is_forbidden(ip(bad)), "{bad} must be refused");
        }
        for good in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_forbidden(ip(good)), "{good} must be allowed");
        }
    }

    #[test]
    fn checks_urls() {
        assert!(check_url("https://example.com/cb", false).is_ok());
        assert!(check_url("http://8.8.8.8:8080/x", false).is_ok());
        assert!(check_url("ftp://example.com/", false).is_err());
        assert!(check_url("not a url", false).is_err());
        assert!(check_url("http://user:pw@example.com/", false).is_err());
        assert!(check_url(&format!("https://example.com/{}", "a".repeat(1024)), false).is_err());
        for private in [
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "http://a.localhost/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest",
            "http://10.0.0.1/",
        ] {
            assert!(check_url(private, false).is_err(), "{private}");
            assert!(check_url(private, true).is_ok(), "{private} with the flag");
        }
    }
}
