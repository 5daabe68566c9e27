//! The SSRF address gate: which IP addresses (and host names) a fetch may connect to.
//!
//! `classify` sorts an address into public, loopback, private or always-forbidden (link-local,
//! cloud metadata, unspecified, multicast, broadcast, documentation, reserved). IPv6 forms that
//! embed an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`,
//! 6to4 `2002::/16`) are judged by the IPv4 address they carry, so no spelling slips past. For
//! IPv6 only global unicast (`2000::/3`) counts as public: anything unallocated is refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{FetchError, FetchPolicy};

/// Host names refused before any DNS lookup (cloud metadata services).
const METADATA_NAMES: &[&str] = &["metadata.google.internal", "metadata"];

/// Refuses `ip` unless the policy allows connecting to it; the error names the address and why.
///
/// Link-local, metadata, unspecified, multicast, broadcast, documentation and reserved
/// addresses are always refused; `allow_loopback` opens only 127/8 and `::1`, and
/// `allow_private` only the private ranges (RFC 1918, CGNAT 100.64/10, ULA fc00::/7).
pub fn check_addr(ip: IpAddr, policy: &FetchPolicy) -> Result<(), FetchError> {
    let (class, embedded) = classify(ip);
    let allowed = match class {
        Class::Public => true,
        Class::Loopback => policy.allow_loopback,
        Class::Private => policy.allow_private,
        Class::Forbidden(_) => false,
    };
    if allowed {
        return Ok(());
    }
    let via = match embedded {
        Some(v4) => format!(" (via embedded IPv4 {v4})"),
        None => String::new(),
    };
    Err(FetchError::HostNotAllowed { host: ip.to_string(), reason: format!("{ip} is {}{via}", class.describe()) })
}

/// Refuses host names that are metadata endpoints whatever they resolve to.
pub(crate) fn check_host_name(name: &str) -> Result<(), FetchError> {
    let bare = name.trim_end_matches('.').to_ascii_lowercase();
    if METADATA_NAMES.contains(&bare.as_str()) {
        return Err(FetchError::HostNotAllowed {
            host: name.to_owned(),
            reason: "it is a cloud metadata host name".to_owned(),
        });
    }
    Ok(())
}

/// What an address is, as far as the gate cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Globally routable: always allowed.
    Public,
    /// 127/8 and ::1: allowed only with `allow_loopback`.
    Loopback,
    /// RFC 1918, CGNAT, ULA: allowed only with `allow_private`.
    Private,
    /// Never allowed; the text says what it is.
    Forbidden(&'static str),
}

impl Class {
    fn describe(self) -> &'static str {
        match self {
            Class::Public => "a public address",
            Class::Loopback => "a loopback address",
            Class::Private => "a private address",
            Class::Forbidden(what) => what,
        }
    }
}

/// Classifies `ip`, also returning the IPv4 address an IPv6 form embeds, if it was used.
fn classify(ip: IpAddr) -> (Class, Option<Ipv4Addr>) {
    match ip {
        IpAddr::V4(v4) => (classify_v4(v4), None),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => (classify_v4(v4), Some(v4)),
            None => (classify_v6(v6), None),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    let [a, b, c, _] = ip.octets();
    // Metadata first: 100.100.100.200 sits inside CGNAT, which allow_private opens.
    if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
        return Class::Forbidden("a cloud metadata address");
    }
    match (a, b, c) {
        (0, _, _) => Class::Forbidden("an unspecified (\"this network\") address"),
        (127, _, _) => Class::Loopback,
        (10, _, _) | (192, 168, _) => Class::Private,
        (172, 16..=31, _) => Class::Private,
        (100, 64..=127, _) => Class::Private,
        (169, 254, _) => Class::Forbidden("a link-local address"),
        (192, 0, 0) | (192, 88, 99) | (198, 18..=19, _) => Class::Forbidden("a reserved address"),
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Class::Forbidden("a documentation address"),
        (224..=239, _, _) => Class::Forbidden("a multicast address"),
        _ if ip == Ipv4Addr::BROADCAST => Class::Forbidden("the broadcast address"),
        (240..=255, _, _) => Class::Forbidden("a reserved address"),
        _ => Class::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    let seg = ip.segments();
    if ip == Ipv6Addr::UNSPECIFIED {
        return Class::Forbidden("the unspecified address");
    }
    if ip == Ipv6Addr::LOCALHOST {
        return Class::Loopback;
    }
    // AWS's IPv6 metadata endpoint sits inside the ULA range, which allow_private opens.
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Class::Forbidden("a cloud metadata address");
    }
    match seg[0] {
        0xfc00..=0xfdff => Class::Private,
        0xfe80..=0xfebf => Class::Forbidden("a link-local address"),
        0xff00..=0xffff => Class::Forbidden("a multicast address"),
        0x2001 if seg[1] == 0x0db8 => Class::Forbidden("a documentation address"),
        0x3fff if seg[1] < 0x1000 => Class::Forbidden("a documentation address"),
        0x2001 if seg[1] == 0 => Class::Forbidden("a Teredo tunnel address"),
        0x2001 if seg[1] == 2 && seg[2] == 0 => Class::Forbidden("a reserved address"),
        0x2000..=0x3fff => Class::Public,
        _ => Class::Forbidden("a reserved address"),
    }
}

/// The IPv4 address carried by an IPv6 form that reaches it: IPv4-mapped, IPv4-compatible
/// (`::a.b.c.d`, but not `::` and `::1`), NAT64 well-known prefix and 6to4.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(low(hi, lo)),
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(low(hi, lo)),
        [0x2002, hi, lo, ..] => Some(low(hi, lo)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tintype_codes::Coded;

    const OPEN: &str = "ok";

    /// Checks `ip` under the default policy, with `allow_loopback` and with `allow_private`;
    /// each expectation is "ok" or a word the refusal's reason must contain.
    fn check(ip: &str, default: &str, loopback: &str, private: &str) {
        let addr: IpAddr = ip.parse().expect("test address parses");
        let policies = [
            ("default", FetchPolicy::default(), default),
            ("allow_loopback", FetchPolicy { allow_loopback: true, ..FetchPolicy::default() }, loopback),
            ("allow_private", FetchPolicy { allow_private: true, ..FetchPolicy::default() }, private),
        ];
        for (name, policy, expected) in policies {
            match (check_addr(addr, &policy), expected) {
                (Ok(()), OPEN) => {}
                (Ok(()), _) => panic!("{ip} under {name}: allowed, expected refusal ({expected})"),
                (Err(e), OPEN) => panic!("{ip} under {name}: refused ({e}), expected allowed"),
                (Err(e), word) => {
                    assert_eq!(e.code(), "url_host_not_allowed");
                    let msg = e.to_string();
                    assert!(msg.contains(word), "{ip} under {name}: `{msg}` lacks `{word}`");
                    let shown = addr.to_string();
                    assert!(msg.contains(&shown), "{ip} under {name}: `{msg}` lacks {shown}");
                }
            }
        }
    }

    #[test]
    fn addresses() {
        #[rustfmt::skip]
        let cases: &[(&str, &str, &str, &str)] = &[
            // address            default          allow_loopback   allow_private
            ("127.0.0.1",         "loopback",      OPEN,            "loopback"),
            ("127.1.2.3",         "loopback",      OPEN,            "loopback"),
            ("::1",               "loopback",      OPEN,            "loopback"),
            ("10.0.0.1",          "private",       "private",       OPEN),
            ("10.255.255.255",    "private",       "private",       OPEN),
            ("172.16.0.1",        "private",       "private",       OPEN),
            ("172.31.255.254",    "private",       "private",       OPEN),
            ("172.32.0.1",        OPEN,            OPEN,            OPEN),
            ("172.15.255.255",    OPEN,            OPEN,            OPEN),
            ("192.168.1.1",       "private",       "private",       OPEN),
            ("100.64.0.1",        "private",       "private",       OPEN),
            ("100.127.255.255",   "private",       "private",       OPEN),
            ("100.128.0.1",       OPEN,            OPEN,            OPEN),
            ("169.254.169.254",   "metadata",      "metadata",      "metadata"),
            ("100.100.100.200",   "metadata",      "metadata",      "metadata"),
            ("fd00:ec2::254",     "metadata",      "metadata",      "metadata"),
            ("169.254.1.1",       "link-local",    "link-local",    "link-local"),
            ("fe80::1",           "link-local",    "link-local",    "link-local"),
            ("0.0.0.0",           "unspecified",   "unspecified",   "unspecified"),
            ("0.1.2.3",           "unspecified",   "unspecified",   "unspecified"),
            ("::",                "unspecified",   "unspecified",   "unspecified"),
            ("224.0.0.1",         "multicast",     "multicast",     "multicast"),
            ("239.255.255.250",   "multicast",     "multicast",     "multicast"),
            ("ff02::1",           "multicast",     "multicast",     "multicast"),
            ("255.255.255.255",   "broadcast",     "broadcast",     "broadcast"),
            ("240.0.0.1",         "reserved",      "reserved",      "reserved"),
            ("192.0.0.8",         "reserved",      "reserved",      "reserved"),
            ("198.18.0.1",        "reserved",      "reserved",      "reserved"),
            ("192.0.2.1",         "documentation", "documentation", "documentation"),
            ("198.51.100.7",      "documentation", "documentation", "documentation"),
            ("203.0.113.9",       "documentation", "documentation", "documentation"),
            ("2001:db8::1",       "documentation", "documentation", "documentation"),
            ("3fff::1",           "documentation", "documentation", "documentation"),
            ("fc00::1",           "private",       "private",       OPEN),
            ("fdff:ffff::1",      "private",       "private",       OPEN),
            ("fec0::1",           "reserved",      "reserved",      "reserved"),
            ("100::1",            "reserved",      "reserved",      "reserved"),
            ("2001::1",           "Teredo",        "Teredo",        "Teredo"),
            // IPv6 spellings of IPv4 addresses are judged by the IPv4 address.
            ("::ffff:127.0.0.1",  "loopback",      OPEN,            "loopback"),
            ("::ffff:10.0.0.1",   "private",       "private",       OPEN),
            ("::ffff:169.254.169.254", "metadata", "metadata",      "metadata"),
            ("::ffff:0.0.0.0",    "unspecified",   "unspecified",   "unspecified"),
            ("::ffff:8.8.8.8",    OPEN,            OPEN,            OPEN),
            ("::127.0.0.1",       "loopback",      OPEN,            "loopback"),
            ("::169.254.169.254", "metadata",      "metadata",      "metadata"),
            ("64:ff9b::10.0.0.1", "private",       "private",       OPEN),
            ("64:ff9b::8.8.8.8",  OPEN,            OPEN,            OPEN),
            ("2002:7f00:1::",     "loopback",      OPEN,            "loopback"),
            ("2002:a9fe:a9fe::1", "metadata",      "metadata",      "metadata"),
            // Public.
            ("8.8.8.8",           OPEN,            OPEN,            OPEN),
            ("1.1.1.1",           OPEN,            OPEN,            OPEN),
            ("2606:4700::1111",   OPEN,            OPEN,            OPEN),
            ("2a00:1450:4001::200e", OPEN,         OPEN,            OPEN),
        ];
        for &(ip, default, loopback, private) in cases {
            check(ip, default, loopback, private);
        }
    }

    #[test]
    fn embedded_v4_mentions_the_ipv4_address() {
        let err = check_addr("::ffff:127.0.0.1".parse().unwrap(), &FetchPolicy::default());
        let msg = err.expect_err("refused").to_string();
        assert!(msg.contains("via embedded IPv4 127.0.0.1"), "{msg}");
    }

    #[test]
    fn host_names() {
        #[rustfmt::skip]
        let cases: &[(&str, bool)] = &[
            ("metadata.google.internal",  false),
            ("metadata.google.internal.", false),
            ("METADATA.Google.Internal",  false),
            ("metadata",                  false),
            ("example.com",               true),
            ("metadata.example.com",      true),
        ];
        for &(name, allowed) in cases {
            let got = check_host_name(name);
            assert_eq!(got.is_ok(), allowed, "{name}: {got:?}");
        }
    }
}
