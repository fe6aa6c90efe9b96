//! Callback URL validation: HTTPS only, no credentials or fragments, and a host that is neither a private,
//! loopback, link-local or otherwise non-public address, nor a name that resolves to one. Checked when a URL
//! is registered, and again by the sender when it connects (`http.rs`). A local server may allow loopback
//! addresses and `http://` (`serve --allow-loopback-callbacks`), so a partner can test against localhost.

use async_trait::async_trait;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const MAX_URL_LEN: usize = 2048;
/// Names that never reach the public internet.
const LOCAL_SUFFIXES: &[&str] = &[".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet"];

/// A URL that passed [`validate_url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackUrl(String);

impl CallbackUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("the URL must start with https://")]
    NotHttps,
    #[error("the URL is malformed: {0}")]
    Malformed(&'static str),
    #[error("credentials in the URL are not accepted; verify SNS's message signature instead")]
    Credentials,
    #[error("the host {0} is a private, loopback or otherwise non-public address")]
    NonPublic(String),
    #[error("the host {0} does not resolve")]
    Unresolvable(String),
}

/// Why a name did not resolve.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{0}")]
    Lookup(#[from] std::io::Error),
    #[error("lookup timed out")]
    TimedOut,
}

/// Name resolution, a port so tests need no DNS.
#[async_trait]
pub trait HostResolver: Send + Sync {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, ResolveError>;
}

/// The system resolver, with a time limit.
pub struct SystemResolver;

#[async_trait]
impl HostResolver for SystemResolver {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        let lookup = tokio::net::lookup_host((host, port));
        match tokio::time::timeout(std::time::Duration::from_secs(3), lookup).await {
            Ok(Ok(addresses)) => Ok(addresses.map(|a| a.ip()).collect()),
            Ok(Err(e)) => Err(ResolveError::Lookup(e)),
            Err(_) => Err(ResolveError::TimedOut),
        }
    }
}

/// Resolves every name to fixed addresses (tests).
#[cfg(any(test, feature = "testing"))]
pub struct StaticResolver(pub Vec<IpAddr>);

#[cfg(any(test, feature = "testing"))]
#[async_trait]
impl HostResolver for StaticResolver {
    async fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, ResolveError> {
        Ok(self.0.clone())
    }
}

enum Host {
    Ip(IpAddr),
    Name(String),
}

/// Splits and checks the URL's syntax (`http://` too when `allow_http`); returns the normalized URL, its host
/// and port.
fn parse(text: &str, allow_http: bool) -> Result<(String, Host, u16), UrlProblem> {
    if text.len() > MAX_URL_LEN {
        return Err(UrlProblem::Malformed("longer than 2048 characters"));
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UrlProblem::Malformed("only printable ASCII without spaces is allowed"));
    }
    let starts = |scheme: &str| text.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme));
    let (scheme, default_port, rest) = if starts("https://") {
        ("https", 443, &text[8..])
    } else if allow_http && starts("http://") {
        ("http", 80, &text[7..])
    } else {
        return Err(UrlProblem::NotHttps);
    };
    if text.contains('#') {
        return Err(UrlProblem::Malformed("fragments are not allowed"));
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(UrlProblem::Credentials);
    }
    let (host_text, port) = split_port(authority, default_port)?;
    let host = parse_host(host_text, allow_http)?;
    let host_for_url = match &host {
        Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]"),
        Host::Ip(ip) => ip.to_string(),
        Host::Name(name) => name.clone(),
    };
    let port_part = if port == default_port {
        String::new()
    } else {
        format!(":{port}")
    };
    let path = if path.is_empty() { "/" } else { path };
    Ok((format!("{scheme}://{host_for_url}{port_part}{path}"), host, port))
}

fn split_port(authority: &str, default_port: u16) -> Result<(&str, u16), UrlProblem> {
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let close = inner.find(']').ok_or(UrlProblem::Malformed("unclosed IPv6 bracket"))?;
        let after = &inner[close + 1..];
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or(UrlProblem::Malformed("junk after the IPv6 address"))?,
            ),
        };
        (&authority[..close + 2], port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => default_port,
        Some(p) => Some(p)
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p > 0)
            .ok_or(UrlProblem::Malformed("invalid port"))?,
    };
    Ok((host, port))
}

/// `localhost` is a host only where loopback is allowed.
fn parse_host(text: &str, allow_localhost: bool) -> Result<Host, UrlProblem> {
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        let ip: Ipv6Addr = inner
            .parse()
            .map_err(|_| UrlProblem::Malformed("invalid IPv6 address"))?;
        return Ok(Host::Ip(IpAddr::V6(ip)));
    }
    if let Ok(ip) = text.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    let name = text.trim_end_matches('.').to_ascii_lowercase();
    if name.len() < text.len() && name.parse::<Ipv4Addr>().is_ok() {
        return Err(UrlProblem::Malformed("an IPv4 address must not end with a dot"));
    }
    if name.is_empty() || name.len() > 253 {
        return Err(UrlProblem::Malformed("missing or overlong host"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !labels.iter().all(label_ok) {
        return Err(UrlProblem::Malformed("invalid host name"));
    }
    if allow_localhost && name == "localhost" {
        return Ok(Host::Name(name));
    }
    // One label is a local name; an all-digit last label is a numeric address in disguise (127.1, 2130706433).
    let last = labels[labels.len() - 1];
    if labels.len() < 2 || last.bytes().all(|b| b.is_ascii_digit()) || name == "localhost" {
        return Err(UrlProblem::NonPublic(name));
    }
    if LOCAL_SUFFIXES.iter().any(|suffix| name.ends_with(suffix)) {
        return Err(UrlProblem::NonPublic(name));
    }
    Ok(Host::Name(name))
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

/// Whether an address can be a public callback target.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// Global unicast (2000::/3) outside IANA's special-purpose blocks that are not globally reachable; the forms
/// that carry an IPv4 address are judged on it. Everything outside 2000::/3 is reserved or local (loopback,
/// unspecified, IPv4-compatible, discard-only, unique local, link-local, site-local, SRv6 SIDs, multicast).
fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // IPv4-mapped (::ffff:0:0/96) and the well-known NAT64 prefix (64:ff9b::/96): the IPv4 address decides.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => is_public_v4(v4(hi, lo)),
        // 6to4 (2002::/16) reaches the IPv4 address in its second and third segments.
        [0x2002, hi, lo, ..] => is_public_v4(v4(hi, lo)),
        // IETF protocol assignments (2001::/23: Teredo, benchmarking, ORCHID...) and documentation
        // (2001:db8::/32, 3fff::/20).
        [0x2001, second, ..] if second < 0x200 || second == 0x0db8 => false,
        [first, ..] if first & 0xfff0 == 0x3ff0 => false,
        [first, ..] => first & 0xe000 == 0x2000,
    }
}

/// Checks a callback URL and every address its host resolves to.
pub async fn validate_url(text: &str, resolver: &dyn HostResolver) -> Result<CallbackUrl, UrlProblem> {
    validate_url_reaching(text, resolver, false).await
}

/// [`validate_url`], also allowing loopback addresses and `http://` when `allow_loopback` (a local server
/// only).
pub async fn validate_url_reaching(
    text: &str,
    resolver: &dyn HostResolver,
    allow_loopback: bool,
) -> Result<CallbackUrl, UrlProblem> {
    let (url, host, port) = parse(text, allow_loopback)?;
    let allowed = |ip: &IpAddr| is_public(*ip) || (allow_loopback && ip.is_loopback());
    let (addresses, shown) = match host {
        Host::Ip(ip) => (vec![ip], None),
        Host::Name(name) => {
            let resolved = resolver.resolve(&name, port).await.unwrap_or_default();
            if resolved.is_empty() {
                return Err(UrlProblem::Unresolvable(name));
            }
            (resolved, Some(name))
        }
    };
    match (addresses.iter().find(|ip| !allowed(ip)), shown) {
        (Some(bad), Some(name)) => Err(UrlProblem::NonPublic(format!("{name} ({bad})"))),
        (Some(bad), None) => Err(UrlProblem::NonPublic(bad.to_string())),
        (None, _) => Ok(CallbackUrl(url)),
    }
}

#[cfg(test)]
mod tests;
