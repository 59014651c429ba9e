//! Checks on the PEM files the server and the client are given, made when they start: rustls
//! skips whatever it cannot parse, so a wrong file would otherwise surface only as failed
//! handshakes.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A PEM file that holds no usable certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCertificates {
    /// A `CERTIFICATE` block is malformed.
    #[error("malformed PEM: {0}")]
    Malformed(String),
    /// There is no `CERTIFICATE` block.
    #[error("no PEM certificate (-----BEGIN CERTIFICATE-----) in it")]
    None,
}

/// Checks that `pem` holds one or more certificates, all well-formed.
pub fn check_certificates(pem: &[u8]) -> Result<(), InvalidCertificates> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| InvalidCertificates::Malformed(error.to_string()))?;
    if certificates.is_empty() {
        return Err(InvalidCertificates::None);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_without_certificates_are_refused() {
        assert_eq!(check_certificates(b"hello"), Err(InvalidCertificates::None));
        assert!(matches!(
            check_certificates(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"),
            Err(InvalidCertificates::Malformed(_))
        ));
    }
}
