//! Ports handed out for servers under test.

use std::collections::HashSet;
use std::net::TcpListener;

use natrium_test_support::port::{free_port, port_of, restartable_port};

#[test]
fn a_free_port_can_be_bound() {
    let port = free_port();
    assert_ne!(port, 0);
    TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
}

#[test]
fn restartable_ports_are_below_the_ephemeral_range_and_never_repeat() {
    let ports: Vec<u16> = (0..50).map(|_| restartable_port()).collect();
    assert!(
        ports.iter().all(|p| (20_000..32_768).contains(p)),
        "{ports:?}"
    );
    assert_eq!(ports.iter().collect::<HashSet<_>>().len(), ports.len());
}

#[test]
fn the_port_of_a_url_is_its_last_field() {
    assert_eq!(port_of("nats://127.0.0.1:4222"), 4222);
    assert_eq!(port_of("http://[::1]:8222"), 8222);
}

#[test]
#[should_panic(expected = "no port in")]
fn a_url_without_a_port_is_refused() {
    port_of("nats://localhost");
}
