//! Advertised host addresses: what a server bound to `0.0.0.0` or `[::]` registers.
//!
//! An unspecified bind address serves on every interface but tells a caller on another
//! machine nothing, so the service registry gets a real address instead, the way Kratos's
//! `host.Extract` picks one: the first private (RFC 1918) IPv4 of an interface that is up,
//! else its first other non-loopback, non-link-local IPv4, else `127.0.0.1`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// `addr` as callers elsewhere reach it: an unspecified IP is replaced by
/// [`advertised_ip`]; any other address is returned as it is.
pub fn advertise(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(advertised_ip(), addr.port())
    } else {
        addr
    }
}

/// This host's address for others: the first private IPv4 of an interface, else the first
/// other usable IPv4, else `127.0.0.1` (also when the interfaces cannot be listed).
pub fn advertised_ip() -> IpAddr {
    let interfaces = match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces,
        Err(err) => {
            tracing::warn!(error = %err, "cannot list network interfaces; advertising 127.0.0.1");
            return IpAddr::V4(Ipv4Addr::LOCALHOST);
        }
    };
    let mut candidates: Vec<(u32, Ipv4Addr)> = interfaces
        .iter()
        // Down interfaces are skipped; "unknown" is what many virtual ones report.
        .filter(|i| !matches!(i.oper_status, if_addrs::IfOperStatus::Down) && !i.is_loopback())
        .filter_map(|i| match i.ip() {
            IpAddr::V4(ip) if usable(ip) => Some((i.index.unwrap_or(u32::MAX), ip)),
            _ => None,
        })
        .collect();
    // Interface order, as Kratos walks them; a stable sort keeps each interface's order.
    candidates.sort_by_key(|(index, _)| *index);
    pick(candidates.into_iter().map(|(_, ip)| ip))
}

fn usable(ip: Ipv4Addr) -> bool {
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_link_local() || ip.is_multicast())
}

/// The first private address, else the first one, else loopback.
fn pick(ips: impl Iterator<Item = Ipv4Addr>) -> IpAddr {
    let ips: Vec<Ipv4Addr> = ips.collect();
    let chosen = ips
        .iter()
        .find(|ip| ip.is_private())
        .or_else(|| ips.first())
        .copied()
        .unwrap_or(Ipv4Addr::LOCALHOST);
    IpAddr::V4(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_address_wins_over_an_earlier_public_one() {
        let ips = [Ipv4Addr::new(192, 0, 2, 2), Ipv4Addr::new(10, 1, 2, 3)];
        assert_eq!(pick(ips.into_iter()), IpAddr::from([10, 1, 2, 3]));
    }

    #[test]
    fn without_a_private_address_the_first_one_is_taken() {
        let ips = [Ipv4Addr::new(192, 0, 2, 2), Ipv4Addr::new(198, 51, 100, 1)];
        assert_eq!(pick(ips.into_iter()), IpAddr::from([192, 0, 2, 2]));
    }

    #[test]
    fn without_any_address_loopback_is_advertised() {
        assert_eq!(pick(std::iter::empty()), IpAddr::from([127, 0, 0, 1]));
    }

    #[test]
    fn link_local_and_loopback_are_not_usable() {
        assert!(!usable(Ipv4Addr::new(169, 254, 1, 1)));
        assert!(!usable(Ipv4Addr::LOCALHOST));
        assert!(usable(Ipv4Addr::new(172, 16, 0, 1)));
    }

    #[test]
    fn only_unspecified_binds_are_replaced() {
        let bound: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        assert_eq!(advertise(bound), bound);
        for any in ["0.0.0.0:8000", "[::]:8000"] {
            let advertised = advertise(any.parse().unwrap());
            assert!(!advertised.ip().is_unspecified(), "{any} -> {advertised}");
            assert_eq!(advertised.port(), 8000);
        }
    }
}
