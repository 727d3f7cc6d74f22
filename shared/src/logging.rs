//! JSON log lines for CloudWatch, with the Lambda request id from the runtime's span.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber once per cold start. The level comes from
/// `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls) or `RUST_LOG`, default `info`.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned())
        .to_lowercase();
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .try_init();
}
