//! The one HTTP client every network target uses: blocking ureq over rustls, trusting the
//! system's roots (rustls-native-certs; Mozilla's webpki roots when the system has none) plus
//! `ca_file`, through `proxy` when one is set (else the usual proxy environment variables).
//! HTTP error statuses are answers, not errors: the targets decide what each means.

use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::{Error, Result};
use crate::settings::Settings;

/// Longest wait for one request, connection to last byte.
const TIMEOUT: Duration = Duration::from_secs(120);
/// The most of an answer's body that is read.
const MAX_ANSWER_BYTES: u64 = 64 << 10;

/// An answer: its status, Retry-After in seconds when given as such, and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<u64>,
    pub body: String,
}

pub struct Client {
    agent: ureq::Agent,
}

impl Client {
    pub fn new(settings: &Settings) -> Result<Self> {
        let mut certs: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
            .certs
            .iter()
            .map(|der| Certificate::from_der(der.as_ref()).to_owned())
            .collect();
        if let Some(file) = &settings.ca_file {
            certs.extend(read_ca_file(file)?);
        }
        let roots = if certs.is_empty() {
            RootCerts::WebPki
        } else {
            RootCerts::Specific(Arc::new(certs))
        };
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .user_agent(concat!("lastgasp/", env!("CARGO_PKG_VERSION")))
            .tls_config(TlsConfig::builder().root_certs(roots).build());
        if let Some(proxy) = &settings.proxy {
            let proxy = ureq::Proxy::new(proxy).map_err(|e| Error::Config {
                key: "proxy",
                why: format!("{proxy:?}: {e}"),
            })?;
            config = config.proxy(Some(proxy));
        }
        Ok(Self {
            agent: ureq::Agent::new_with_config(config.build()),
        })
    }

    /// POSTs `body` to `url`. `Err` is a transport failure (no answer), in one line.
    pub fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::result::Result<Answer, String> {
        let mut request = self.agent.post(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request.send(body).map_err(|e| e.to_string())?;
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .unwrap_or_default();
        Ok(Answer {
            status: response.status().as_u16(),
            retry_after,
            body,
        })
    }
}

/// The certificates of a PEM file; a file with none, or a broken one, is an error naming it.
pub fn read_ca_file(file: &std::path::Path) -> Result<Vec<Certificate<'static>>> {
    let pem = std::fs::read(file).map_err(Error::io(file))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(cert)) => certs.push(cert.to_owned()),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::Invalid {
                    path: file.to_path_buf(),
                    why: format!("not a PEM certificate file: {e}"),
                });
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::Invalid {
            path: file.to_path_buf(),
            why: "no PEM certificate in it (ca_file)".into(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_without_certificates_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("ca.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let err = read_ca_file(&file).unwrap_err().to_string();
        assert!(
            err.contains("ca.pem") && err.contains("no PEM certificate"),
            "{err}"
        );
        let err = read_ca_file(&tmp.path().join("missing.pem"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.pem"), "{err}");
    }
}
