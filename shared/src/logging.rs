//! JSON log lines for CloudWatch, with the Lambda request id from the runtime's span.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter for a level setting: a level (`debug`) or `target=level` directives
/// (`info,aws_smithy_runtime=debug`), as `RUST_LOG` takes them. Anything else means `info`.
/// (`Targets` rather than `EnvFilter`: the same directives without a regex engine in every
/// binary.)
pub fn filter(setting: Option<&str>) -> Targets {
    let info = || Targets::new().with_default(tracing::Level::INFO);
    match setting.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.to_lowercase().parse().unwrap_or_else(|_| info()),
        None => info(),
    }
}

/// Installs the JSON subscriber once per cold start, at the level `setting` gives
/// ([`filter`]; the functions pass [`crate::config::log_level`]), default `info`.
pub fn init(setting: Option<&str>) {
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .finish()
        .with(filter(setting))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::level_filters::LevelFilter;

    #[test]
    fn levels_and_directives() {
        let default = |t: &Targets| t.default_level();
        assert_eq!(default(&filter(None)), Some(LevelFilter::INFO));
        assert_eq!(default(&filter(Some(""))), Some(LevelFilter::INFO));
        assert_eq!(default(&filter(Some("DEBUG"))), Some(LevelFilter::DEBUG));
        assert_eq!(default(&filter(Some("warn"))), Some(LevelFilter::WARN));
        let mixed = filter(Some("warn,shared=debug"));
        assert!(mixed.would_enable("shared::store", &tracing::Level::DEBUG));
        assert!(!mixed.would_enable("aws_smithy_runtime", &tracing::Level::INFO));
        assert_eq!(
            default(&filter(Some("not a level=at all=x"))),
            Some(LevelFilter::INFO)
        );
    }
}
