//! The SDK configuration and the HTTPS client every AWS client of the service uses.

use crate::config::{DynamoConfig, TlsRoots};
use aws_config::BehaviorVersion;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use std::time::Duration;

fn timeouts_and_retries(cfg: &DynamoConfig) -> (TimeoutConfig, RetryConfig) {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(cfg.connect_timeout)
        .operation_attempt_timeout(cfg.attempt_timeout)
        .operation_timeout(cfg.operation_timeout)
        .build();
    let retries = RetryConfig::standard()
        .with_max_attempts(cfg.max_attempts)
        .with_initial_backoff(Duration::from_millis(25))
        .with_max_backoff(Duration::from_millis(200));
    (timeouts, retries)
}

/// Loads the shared AWS configuration with the SDK's default provider chains (profiles, SSO,
/// web identity, instance metadata): for the admin CLI and the tools, run wherever. Timeouts and
/// retries suit Lambda: a dependency that is down or slow fails the request in well under two
/// seconds (a 503 the client can retry) instead of holding it for the SDK's defaults.
pub async fn aws_config(cfg: &DynamoConfig) -> aws_config::SdkConfig {
    let (timeouts, retries) = timeouts_and_retries(cfg);
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(retries)
        .http_client(https_client(cfg.tls_roots));
    if cfg.endpoint.is_some() && crate::config::process_var("AWS_REGION").is_none() {
        // A local DynamoDB: any region will do.
        loader = loader.region(aws_config::Region::new("us-east-1"));
    }
    loader.load().await
}

/// The AWS configuration of a Lambda function, built without the default provider chains:
/// Lambda always gives a function its region and its role's credentials in the environment
/// (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...), so the profile, SSO, web-identity (STS) and
/// instance-metadata providers would never run, and leaving them out keeps them out of the
/// binary. `env` looks up the region (the process environment in the functions).
pub fn lambda_aws_config(
    cfg: &DynamoConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<aws_config::SdkConfig, crate::error::StartupError> {
    let region = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .filter(|r| !r.trim().is_empty());
    let region = match (region, &cfg.endpoint) {
        (Some(region), _) => region,
        // A local DynamoDB: any region will do.
        (None, Some(_)) => "us-east-1".to_owned(),
        (None, None) => return Err(crate::error::StartupError::Missing("AWS_REGION")),
    };
    // Read from the process environment when the client first needs them (then cached).
    let credentials = EnvironmentVariableCredentialsProvider::new();
    let (timeouts, retries) = timeouts_and_retries(cfg);
    Ok(aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client(cfg.tls_roots))
        .timeout_config(timeouts)
        .retry_config(retries)
        .build())
}

/// The roots every AWS service endpoint chains to (Amazon Root CA 1–4, Starfield Services
/// Root G2; see `shared/data/tls/README.md`).
pub const AMAZON_TRUST_SERVICES_PEM: &[u8] =
    include_bytes!("../../data/tls/amazon-trust-services.pem");

/// The HTTPS client of the AWS clients: rustls on ring (the one TLS stack and the one crypto
/// library in the binary),
/// trusting `roots`. With [`TlsRoots::Amazon`] a cold start parses five compiled-in
/// certificates instead of reading and parsing the system's whole CA store (about 5 ms of init
/// measured by `make bench`).
pub fn https_client(roots: TlsRoots) -> SharedHttpClient {
    let trust = match roots {
        TlsRoots::Amazon => TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_PEM),
        TlsRoots::System => TrustStore::default(),
    };
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::Ring,
    ));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Building a context does not fail today (certificates are checked on first use);
        // should it, the SDK's default client still works.
        Err(_) => builder.build_https(),
    }
}

/// What a local DynamoDB is signed for.
fn local_credentials() -> aws_sdk_dynamodb::config::Credentials {
    aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "local")
}

/// The DynamoDB client. With an endpoint override (local Dynoxide) it signs with static
/// credentials, which the emulator accepts; on AWS it uses the function's role.
pub fn dynamodb_client(sdk: &aws_config::SdkConfig, cfg: &DynamoConfig) -> Client {
    let mut builder = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(endpoint) = &cfg.endpoint {
        builder = builder
            .endpoint_url(endpoint)
            .credentials_provider(local_credentials());
    }
    Client::from_conf(builder.build())
}

/// The wire client of the hot reads ([`super::Wire`]) beside `client` (made by
/// [`dynamodb_client`] from `sdk` and `cfg`), with the same endpoint and credentials.
pub fn dynamodb_wire(
    sdk: &aws_config::SdkConfig,
    client: &Client,
    cfg: &DynamoConfig,
) -> Result<super::Wire, crate::error::StartupError> {
    let credentials = match &cfg.endpoint {
        None => sdk.credentials_provider(),
        Some(_) => Some(SharedCredentialsProvider::new(local_credentials())),
    };
    super::Wire::new(client, cfg.endpoint.as_deref(), credentials)
        .map_err(|e| crate::error::StartupError::Client(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::SdkError;
    use base64::Engine;

    /// SHA-256 of each DER certificate in a PEM bundle, in hex.
    fn fingerprints(pem: &str) -> Vec<String> {
        pem.split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|block| {
                let body: String = block
                    .split("-----END CERTIFICATE-----")
                    .next()
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect();
                let der = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .expect("base64 body");
                ring::digest::digest(&ring::digest::SHA256, &der)
                    .as_ref()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn amazon_roots_are_the_published_ones() {
        let pem = std::str::from_utf8(AMAZON_TRUST_SERVICES_PEM).expect("ASCII");
        // https://www.amazontrust.com/repository/
        assert_eq!(
            fingerprints(pem),
            [
                "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
                "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
                "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
                "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
                "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
            ]
        );
    }

    fn dynamo(endpoint: Option<&str>) -> DynamoConfig {
        DynamoConfig {
            endpoint: endpoint.map(str::to_owned),
            connect_timeout: Duration::from_millis(300),
            attempt_timeout: Duration::from_millis(700),
            operation_timeout: Duration::from_millis(1600),
            max_attempts: 2,
            tls_roots: TlsRoots::Amazon,
        }
    }

    #[test]
    fn a_function_takes_its_region_from_lambdas_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let on_aws = dynamo(None);
        let sdk = lambda_aws_config(&on_aws, env(&[("AWS_REGION", "eu-west-1")])).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert!(sdk.credentials_provider().is_some());
        assert!(sdk.http_client().is_some());
        assert_eq!(
            sdk.retry_config().map(|r| r.max_attempts()),
            Some(2),
            "the configured retries"
        );
        let sdk = lambda_aws_config(&on_aws, env(&[("AWS_DEFAULT_REGION", "us-west-2")])).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("us-west-2"));
        assert!(
            lambda_aws_config(&on_aws, env(&[])).is_err(),
            "no region on AWS"
        );
        let local = dynamo(Some("http://127.0.0.1:8000"));
        let sdk = lambda_aws_config(&local, env(&[])).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("us-east-1"));
    }

    /// A TLS server on localhost with a fresh self-signed certificate: a stand-in for an
    /// endpoint that is not AWS. Returns its port and what each handshake ended with.
    fn self_signed_tls_server(connections: usize) -> (u16, std::sync::mpsc::Receiver<String>) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .expect("server config");
        let config = std::sync::Arc::new(config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for _ in 0..connections {
                let Ok((mut socket, _)) = listener.accept() else {
                    return;
                };
                let mut conn = rustls::ServerConnection::new(config.clone()).expect("conn");
                let ended = loop {
                    match conn.complete_io(&mut socket) {
                        Ok((0, 0)) => break "closed".to_owned(),
                        Ok(_) if !conn.is_handshaking() => break "handshake done".to_owned(),
                        Ok(_) => continue,
                        Err(e) => break e.to_string(),
                    }
                };
                let _ = tx.send(ended);
            }
        });
        (port, rx)
    }

    /// The client speaks TLS (rustls on ring) and checks the server's chain against the trust
    /// store: a certificate no AWS root vouches for is refused during the handshake, and the
    /// request fails as an ordinary, retryable dispatch error (a bad trust store or a missing
    /// crypto provider would panic the function instead).
    #[tokio::test]
    async fn a_non_aws_https_endpoint_is_refused_in_the_handshake() {
        let roots = [TlsRoots::Amazon, TlsRoots::System];
        let (port, handshakes) = self_signed_tls_server(roots.len());
        for roots in roots {
            let cfg = DynamoConfig {
                endpoint: Some(format!("https://localhost:{port}")),
                max_attempts: 1,
                tls_roots: roots,
                ..dynamo(None)
            };
            let sdk = lambda_aws_config(&cfg, |_| None).expect("local region");
            let client = dynamodb_client(&sdk, &cfg);
            let err = client
                .list_tables()
                .send()
                .await
                .expect_err("not an AWS endpoint");
            let chain = aws_smithy_types::error::display::DisplayErrorContext(&err).to_string();
            assert!(
                matches!(err, SdkError::DispatchFailure(_)),
                "{roots:?}: {chain}"
            );
            assert!(chain.contains("UnknownIssuer"), "{roots:?}: {chain}");
            let server = handshakes
                .recv_timeout(Duration::from_secs(10))
                .expect("the client connected");
            // The client got as far as checking the certificate, then told the server why not.
            assert!(
                server.contains("received fatal alert"),
                "{roots:?}: {server}"
            );
        }
    }
}
