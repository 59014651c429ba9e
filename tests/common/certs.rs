//! Throwaway certificates for TLS tests, made at run time: a CA, a server certificate for
//! `localhost` and 127.0.0.1, and client certificates, written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A certificate authority that issues certificates into a directory.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// Its certificate, PEM.
    pub cert_pem: String,
}

/// A certificate and its private key, as PEM files.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Ca {
    /// A new self-signed CA named `name`.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        Self {
            issuer: Issuer::new(params, key),
            cert_pem: cert.pem(),
        }
    }

    /// Writes the CA certificate to `dir/NAME` and returns its path.
    pub fn write_cert(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.cert_pem).expect("write CA certificate");
        path
    }

    /// A server certificate for `localhost` and 127.0.0.1, written to `dir/NAME.pem` and
    /// `dir/NAME.key`.
    pub fn server_cert(&self, dir: &Path, name: &str) -> CertFiles {
        self.issue(
            dir,
            name,
            vec!["localhost".to_string(), "127.0.0.1".to_string()],
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate for `name`, written to `dir/NAME.pem` and `dir/NAME.key`.
    pub fn client_cert(&self, dir: &Path, name: &str) -> CertFiles {
        self.issue(dir, name, Vec::new(), ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(
        &self,
        dir: &Path,
        name: &str,
        alt_names: Vec<String>,
        usage: ExtendedKeyUsagePurpose,
    ) -> CertFiles {
        let mut params = CertificateParams::new(alt_names).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        let files = CertFiles {
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, cert.pem()).expect("write certificate");
        std::fs::write(&files.key, key.serialize_pem()).expect("write key");
        files
    }
}

/// Everything a TLS test needs, in one temporary directory: the CA's certificate, a server
/// certificate and a client certificate it issued, and a client certificate from another CA.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca_cert: PathBuf,
    pub server: CertFiles,
    pub client: CertFiles,
    pub stranger: CertFiles,
}

impl Pki {
    /// Makes the certificates.
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = Ca::new("eventstream test CA");
        let other = Ca::new("some other CA");
        Self {
            ca_cert: ca.write_cert(dir.path(), "ca.pem"),
            server: ca.server_cert(dir.path(), "server"),
            client: ca.client_cert(dir.path(), "client"),
            stranger: other.client_cert(dir.path(), "stranger"),
            dir,
        }
    }

    /// The server flags for TLS; with `mutual`, client certificates from the CA are required.
    pub fn server_args(&self, mutual: bool) -> Vec<String> {
        let mut args = vec![
            format!("--tls-cert={}", self.server.cert.display()),
            format!("--tls-key={}", self.server.key.display()),
        ];
        if mutual {
            args.push(format!("--tls-client-ca={}", self.ca_cert.display()));
        }
        args
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca_cert).expect("read CA certificate")
    }
}

/// Reads a PEM file.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read PEM file")
}
