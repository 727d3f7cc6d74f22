//! Timestamps: stored as whole Unix seconds, shown as RFC 3339 UTC with `Z`.

use chrono::{DateTime, SecondsFormat, Utc};

/// Seconds since the Unix epoch, now.
pub fn now_epoch() -> i64 {
    Utc::now().timestamp()
}

/// Formats Unix seconds as RFC 3339 UTC with a `Z` suffix and whole seconds,
/// e.g. `2025-02-08T10:30:00Z`.
pub fn rfc3339(epoch_seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(epoch_seconds, 0)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_whole_seconds_with_z() {
        assert_eq!(rfc3339(1_739_010_600), "2025-02-08T10:30:00Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
