//! Test certificates, generated at test time with rcgen: a CA, a server certificate for
//! 127.0.0.1 and localhost, a client certificate signed by the CA, and a client certificate
//! signed by an unrelated CA. Written as PEM files into a temporary directory.
//!
//! Used by the TLS suites of natrium-server, the framework and the CLI.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// PEM files for one test; removed when dropped.
pub struct Certs {
    dir: tempfile::TempDir,
    /// The CA that signs the server and client certificates.
    pub ca: PathBuf,
    /// Server certificate (SANs 127.0.0.1 and localhost).
    pub server_cert: PathBuf,
    /// Server private key.
    pub server_key: PathBuf,
    /// Client certificate signed by `ca`.
    pub client_cert: PathBuf,
    /// Client private key.
    pub client_key: PathBuf,
    /// Client certificate signed by another CA.
    pub rogue_cert: PathBuf,
    /// Its private key.
    pub rogue_key: PathBuf,
    /// The unrelated CA that signed `rogue_cert` (a wrong CA for clients to trust).
    pub rogue_ca: PathBuf,
}

fn ca(name: &str) -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("self-signed CA");
    (cert, Issuer::new(params, key))
}

fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    name: &str,
    sans: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
            .expect("leaf params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, issuer).expect("signed leaf");
    (cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write PEM");
    path
}

impl Certs {
    /// Generates a fresh set.
    pub fn generate() -> Certs {
        let dir = tempfile::tempdir().expect("temp dir");
        let (ca_cert, issuer) = ca("natrium test CA");
        let (server_cert, server_key) = leaf(
            &issuer,
            "natrium test server",
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) = leaf(
            &issuer,
            "natrium test client",
            &["client.natrium.test"],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let (rogue_ca, rogue_issuer) = ca("someone else's CA");
        let (rogue_cert, rogue_key) = leaf(
            &rogue_issuer,
            "rogue client",
            &["rogue.natrium.test"],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let d = dir.path();
        Certs {
            ca: write(d, "ca.pem", &ca_cert.pem()),
            server_cert: write(d, "server.pem", &server_cert),
            server_key: write(d, "server-key.pem", &server_key),
            client_cert: write(d, "client.pem", &client_cert),
            client_key: write(d, "client-key.pem", &client_key),
            rogue_cert: write(d, "rogue.pem", &rogue_cert),
            rogue_key: write(d, "rogue-key.pem", &rogue_key),
            rogue_ca: write(d, "rogue-ca.pem", &rogue_ca.pem()),
            dir,
        }
    }

    /// Writes another file into the same directory (for broken-file tests).
    pub fn write_file(&self, name: &str, text: &str) -> PathBuf {
        write(self.dir.path(), name, text)
    }
}
