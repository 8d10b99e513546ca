//! The SSRF guard: a webhook URL may not reach the ledger's own network (loopback, private,
//! link-local, unique-local, multicast, unspecified, and those addresses in IPv4-mapped or
//! similar IPv6 forms) unless the operator allow-listed the host.
//!
//! Checked when a subscription is created, and again at every delivery: the HTTP client
//! resolves names through [`Guard`], which drops refused addresses, so the connection goes to
//! an address that was checked (a name that re-resolves to 127.0.0.1 later gets nowhere).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;

/// Why an address is refused, or `None` when it is a public one.
pub fn refused_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("unspecified (0.0.0.0/8)")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared address space (100.64.0.0/10)")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_broadcast() || a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    // IPv4 carried in IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d) and NAT64
    // (64:ff9b::a.b.c.d) reach the IPv4 address, so the IPv4 rules decide.
    let embedded = if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if segments[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_unspecified() && !ip.is_loopback() {
        ip.to_ipv4()
    } else if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., a, b, c, d] = ip.octets();
        Some(Ipv4Addr::new(a, b, c, d))
    } else {
        None
    };
    if let Some(v4) = embedded {
        return refused_v4(v4);
    }
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if segments[0] & 0xfe00 == 0xfc00 {
        Some("unique-local (fc00::/7)")
    } else if segments[0] & 0xffc0 == 0xfe80 || segments[0] & 0xffc0 == 0xfec0 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else {
        None
    }
}

/// The allow-list and the checks, shared by the API (at subscription) and the HTTP client.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    hosts: Vec<String>,
    addresses: Vec<IpAddr>,
}

impl Guard {
    pub fn new(allow_hosts: &[String]) -> Self {
        let mut guard = Self::default();
        for entry in allow_hosts {
            let entry = entry.trim().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
            match entry.parse::<IpAddr>() {
                Ok(ip) => guard.addresses.push(ip),
                Err(_) => guard.hosts.push(entry),
            }
        }
        guard
    }

    fn host_allowed(&self, host: &str) -> bool {
        self.hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(host))
    }

    /// Refuses `ip` (reached through `host`) unless it is public or allow-listed.
    fn check_address(&self, host: &str, ip: IpAddr) -> Result<(), String> {
        if self.host_allowed(host) || self.addresses.contains(&ip) {
            return Ok(());
        }
        match refused_range(ip) {
            None => Ok(()),
            Some(range) => Err(format!("{host} resolves to {ip}, a {range} address, which webhooks may not target")),
        }
    }

    /// Checks the scheme and, for an address written in the URL, the address. Names are
    /// checked where they are resolved ([`Guard::check_url`], or the client's resolver).
    pub fn check_literal(&self, url: &Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err("a webhook URL uses http or https".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("a webhook URL carries no user name or password; use the signing secret".into());
        }
        match url.host() {
            None => Err("a webhook URL names a host".into()),
            Some(url::Host::Ipv4(ip)) => self.check_address(&ip.to_string(), IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_address(&ip.to_string(), IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => Ok(()),
        }
    }

    /// Parses and checks a URL, resolving its host now: every address it resolves to must pass.
    pub async fn check_url(&self, raw: &str) -> Result<Url, String> {
        let url = Url::parse(raw).map_err(|e| format!("not an absolute URL: {e}"))?;
        self.check_literal(&url)?;
        if let Some(url::Host::Domain(host)) = url.host() {
            let port = url.port_or_known_default().unwrap_or(443);
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("the host {host} cannot be resolved: {e}"))?
                .collect();
            if addresses.is_empty() {
                return Err(format!("the host {host} resolves to no address"));
            }
            for address in addresses {
                self.check_address(host, address.ip())?;
            }
        }
        Ok(url)
    }
}

/// Name resolution for deliveries: refused addresses are dropped, so the client can only
/// connect to checked ones.
impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|address| match guard.check_address(&host, address.ip()) {
                    Ok(()) => true,
                    Err(reason) => {
                        refusal = Some(reason);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let reason = refusal.unwrap_or_else(|| format!("{host} resolves to no address"));
                return Err(reason.into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The resolver as the HTTP client takes it.
pub fn resolver(guard: &Guard) -> Arc<Guard> {
    Arc::new(guard.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) -> bool {
        refused_range(ip.parse().unwrap()).is_some()
    }

    #[test]
    fn internal_ranges_are_refused_in_every_form() {
        for ip in [
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(refused(ip), "{ip} should be refused");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34"] {
            assert!(!refused(ip), "{ip} should be allowed");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_unless_allow_listed() {
        let strict = Guard::new(&[]);
        for url in ["http://10.0.0.1/", "http://[::ffff:127.0.0.1]/", "http://localhost:9/", "ftp://93.184.216.34/"] {
            assert!(strict.check_url(url).await.is_err(), "{url}");
        }
        let open = Guard::new(&["127.0.0.1".into(), "[::1]".into()]);
        assert!(open.check_url("http://127.0.0.1:9/hook").await.is_ok());
        assert!(open.check_url("http://[::1]:9/hook").await.is_ok());
        assert!(open.check_url("http://10.0.0.1/").await.is_err());
    }
}
