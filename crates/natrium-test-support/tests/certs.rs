//! The generated certificates are PEM files in one directory, removed with the set.

use natrium_test_support::certs::Certs;

#[test]
fn a_generated_set_is_pem_files_removed_on_drop() {
    let certs = Certs::generate();
    for cert in [
        &certs.ca,
        &certs.server_cert,
        &certs.client_cert,
        &certs.rogue_cert,
        &certs.rogue_ca,
    ] {
        let text = std::fs::read_to_string(cert).expect("read certificate");
        assert!(
            text.starts_with("-----BEGIN CERTIFICATE-----"),
            "{}",
            cert.display()
        );
    }
    for key in [&certs.server_key, &certs.client_key, &certs.rogue_key] {
        let text = std::fs::read_to_string(key).expect("read key");
        assert!(
            text.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{}",
            key.display()
        );
    }
    let extra = certs.write_file("broken.pem", "not PEM");
    assert_eq!(extra.parent(), certs.ca.parent());
    let dir = certs.ca.parent().expect("a directory").to_owned();
    drop(certs);
    assert!(!dir.exists(), "{} removed", dir.display());
}
