//! The HTTPS client the SDK uses: rustls with aws-lc (the SDK's own default), trusting the roots
//! AWS service endpoints chain to, compiled in, plus any bundle named by `AWS_CA_BUNDLE`.
//!
//! The SDK's default client trusts the system store instead, and reads and parses it, file by
//! file, when the process starts its first connection: hundreds of certificates for five that
//! an AWS endpoint can chain to. Here nothing is read from disk unless `AWS_CA_BUNDLE` says so,
//! and the few roots are parsed when the first connection needs them.

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::error::{Error, Result};

/// Amazon Root CA 1-4 and Starfield Services Root CA G2 (Amazon Trust Services).
pub const AMAZON_ROOTS: &str = include_str!("amazon-roots.pem");

/// The variable the AWS SDKs and CLI read for an extra certificate bundle (a corporate proxy's
/// CA, a partition with other roots).
pub const CA_BUNDLE_VAR: &str = "AWS_CA_BUNDLE";

/// Reads and checks the bundle `AWS_CA_BUNDLE` names, if set: every certificate in it must parse
/// as a trust anchor, so that a bad bundle stops the function at init, naming the variable,
/// rather than failing its first connection.
pub fn extra_bundle(path: Option<&str>) -> Result<Option<Vec<u8>>> {
    let Some(path) = path.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let bytes = std::fs::read(path).map_err(|e| Error::Config {
        var: CA_BUNDLE_VAR,
        message: format!("cannot read {path}: {e}"),
    })?;
    let count = check_pem(&bytes).map_err(|message| Error::Config {
        var: CA_BUNDLE_VAR,
        message: format!("{path}: {message}"),
    })?;
    tracing::info!(path, certificates = count, "trusting the extra CA bundle");
    Ok(Some(bytes))
}

/// Counts the certificates in a PEM bundle, each checked as a trust anchor.
fn check_pem(bytes: &[u8]) -> std::result::Result<usize, String> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate bundle ({e})"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    let mut store = rustls::RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        store
            .add(cert.clone())
            .map_err(|e| format!("certificate {} is not a usable CA: {e}", i + 1))?;
    }
    Ok(certs.len())
}

/// The HTTPS client: the Amazon roots, and the extra bundle if any.
pub fn https_client(extra: Option<Vec<u8>>) -> Result<SharedHttpClient> {
    let mut trust = TrustStore::empty().with_pem_certificate(AMAZON_ROOTS.as_bytes());
    if let Some(pem) = extra {
        trust.add_pem_certificate(pem);
    }
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| Error::Config {
            var: CA_BUNDLE_VAR,
            message: format!("the TLS context was refused: {e}"),
        })?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_roots_are_the_five_amazon_trust_services_anchors() {
        assert_eq!(check_pem(AMAZON_ROOTS.as_bytes()), Ok(5));
    }

    #[test]
    fn no_bundle_reads_nothing() {
        assert!(matches!(extra_bundle(None), Ok(None)));
        assert!(matches!(extra_bundle(Some("  ")), Ok(None)));
    }

    #[test]
    fn a_bundle_is_read_and_checked() {
        let path = std::env::temp_dir().join(format!("autopilot-ca-{}.pem", std::process::id()));
        // One of the roots stands in for a corporate CA.
        let one = AMAZON_ROOTS
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .unwrap_or_default();
        std::fs::write(&path, one).expect("temp file");
        let read = extra_bundle(path.to_str());
        let _ = std::fs::remove_file(&path);
        assert!(
            matches!(read, Ok(Some(ref b)) if b == one.as_bytes()),
            "{read:?}"
        );
    }

    #[test]
    fn a_missing_or_bad_bundle_is_a_config_error_naming_the_variable() {
        let missing = extra_bundle(Some("/nonexistent/ca.pem")).expect_err("missing file");
        assert!(
            missing.to_string().contains("AWS_CA_BUNDLE")
                && missing.to_string().contains("/nonexistent/ca.pem"),
            "{missing}"
        );
        for (content, says) in [
            ("not a certificate at all\n", "holds no PEM certificate"),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "not a usable CA",
            ),
        ] {
            let path = std::env::temp_dir().join(format!(
                "autopilot-bad-ca-{}-{}.pem",
                std::process::id(),
                says.len()
            ));
            std::fs::write(&path, content).expect("temp file");
            let e = extra_bundle(path.to_str()).expect_err("bad bundle");
            let _ = std::fs::remove_file(&path);
            assert!(
                e.to_string().contains("AWS_CA_BUNDLE") && e.to_string().contains(says),
                "{e}"
            );
        }
    }

    #[test]
    fn the_client_builds_with_and_without_an_extra_bundle() {
        assert!(https_client(None).is_ok());
        assert!(https_client(Some(AMAZON_ROOTS.as_bytes().to_vec())).is_ok());
    }
}
