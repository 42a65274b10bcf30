//! Which addresses a connection made on a tenant's behalf may reach. A tenant types
//! its mailbox's host; without this, "host = 169.254.169.254" or "10.0.0.5, port 6379"
//! would make our server probe the network it runs in (SSRF). The host is resolved
//! here and the connection goes to the address that was checked, so a DNS answer that
//! changes between the check and the connect (rebinding) gains nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Ports a mailbox's SMTP server may listen on: submission, SMTPS, relay, and the
/// common alternative.
pub const SMTP_PORTS: [u16; 4] = [25, 465, 587, 2525];

/// Where connections may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Egress {
    /// Public unicast addresses on [`SMTP_PORTS`] only: what tenants' settings get.
    PublicOnly,
    /// Anything, loopback included: the operator's own relay, or the local peer in
    /// development.
    AnyAddress,
}

/// Why a host was refused. The text names no address: members see it, and which
/// internal addresses exist is exactly what must not leak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// The name does not resolve.
    #[error("the server's name does not resolve")]
    Unresolved,
    /// A private, loopback, link-local, reserved or metadata address, or a port
    /// other than [`SMTP_PORTS`].
    #[error("the server is not on a public address and an SMTP port (25, 465, 587, 2525)")]
    NotAllowed,
}

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, cloud metadata included
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 can reach private v4
}

/// Resolves `host` and returns the address to connect to, if `egress` allows it.
/// Every resolved address must be allowed, so a name cannot mix a public address with
/// a private one and hope for the latter.
pub async fn resolve(host: &str, port: u16, egress: Egress) -> Result<SocketAddr, EgressError> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| EgressError::Unresolved)?
        .collect();
    let first = *addresses.first().ok_or(EgressError::Unresolved)?;
    if egress == Egress::PublicOnly
        && (!SMTP_PORTS.contains(&port) || !addresses.iter().all(|a| is_public(a.ip())))
    {
        return Err(EgressError::NotAllowed);
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.10",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2a00:1450:4001:82b::200e",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[tokio::test]
    async fn tenants_reach_public_smtp_ports_only() {
        let public_only = Egress::PublicOnly;
        assert_eq!(
            resolve("127.0.0.1", 25, public_only).await,
            Err(EgressError::NotAllowed)
        );
        assert_eq!(
            resolve("localhost", 587, public_only).await,
            Err(EgressError::NotAllowed)
        );
        assert_eq!(
            resolve("169.254.169.254", 587, public_only).await,
            Err(EgressError::NotAllowed)
        );
        assert_eq!(
            resolve("8.8.8.8", 6379, public_only).await,
            Err(EgressError::NotAllowed)
        );
        assert_eq!(
            resolve("8.8.8.8", 587, public_only).await,
            Ok("8.8.8.8:587".parse().unwrap())
        );
        assert_eq!(
            resolve("127.0.0.1", 2525, Egress::AnyAddress).await,
            Ok("127.0.0.1:2525".parse().unwrap())
        );
        assert_eq!(
            resolve("no-such-host.invalid", 25, public_only).await,
            Err(EgressError::Unresolved)
        );
    }
}
