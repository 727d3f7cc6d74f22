//! JSON log lines for CloudWatch, with the Lambda request id from the runtime's span.
//!
//! The lines are those of `tracing-subscriber`'s JSON format (event fields at the top level,
//! the current span under `span`, no target), written by [`JsonLines`] straight into one
//! buffer. That format collects each event's fields into a map of JSON values and reads the
//! span's fields back from JSON into another map, for every line: about 5 % of the admin
//! route's CPU per request, which logs one audit line (a `perf` profile of the function).

use std::fmt;
use std::io::Write as _;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
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
    let _ = builder()
        .with_writer(std::io::stdout)
        .finish()
        .with(filter(setting))
        .try_init();
}

/// The subscriber's builder with this module's line format ([`JsonLines`], [`JsonFields`]),
/// for a writer of one's own (the tests capture the lines).
pub fn builder() -> tracing_subscriber::fmt::SubscriberBuilder<JsonFields, JsonLines> {
    tracing_subscriber::fmt()
        .fmt_fields(JsonFields)
        .event_format(JsonLines)
}

/// Formats an event as one JSON line: `timestamp` (RFC 3339, UTC, microseconds), `level`,
/// the event's fields (`message` among them), and the current span's fields and `name` under
/// `span`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

/// Formats a span's fields as the members of a JSON object (`"key":value,...`), kept with
/// the span and copied into each of its events' lines by [`JsonLines`]. A field recorded again
/// on a span is written again (the JSON format keeps only the last value); no span here
/// records a field twice.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonFields;

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut time = String::with_capacity(32);
        SystemTime.format_time(&mut Writer::new(&mut time))?;
        let mut line = Vec::with_capacity(512);
        line.extend_from_slice(b"{\"timestamp\":");
        json_str(&mut line, &time);
        line.extend_from_slice(b",\"level\":");
        json_str(&mut line, event.metadata().level().as_str());
        event.record(&mut Members {
            out: &mut line,
            first: false,
        });
        // The event's own parent if it names one, else the span it is in.
        let span = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(span) = span {
            line.extend_from_slice(b",\"span\":{");
            if let Some(fields) = span.extensions().get::<FormattedFields<JsonFields>>()
                && !fields.is_empty()
            {
                line.extend_from_slice(fields.as_bytes());
                line.push(b',');
            }
            line.extend_from_slice(b"\"name\":");
            json_str(&mut line, span.name());
            line.push(b'}');
        }
        line.extend_from_slice(b"}\n");
        writer.write_str(std::str::from_utf8(&line).map_err(|_| fmt::Error)?)
    }
}

impl<'w> FormatFields<'w> for JsonFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: Writer<'w>,
        fields: R,
    ) -> fmt::Result {
        let mut members = Vec::new();
        fields.record(&mut Members {
            out: &mut members,
            first: true,
        });
        writer.write_str(std::str::from_utf8(&members).map_err(|_| fmt::Error)?)
    }

    /// Fields recorded on a span later join those it was made with.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut members = Vec::new();
        fields.record(&mut Members {
            out: &mut members,
            first: current.fields.is_empty(),
        });
        current
            .fields
            .push_str(std::str::from_utf8(&members).map_err(|_| fmt::Error)?);
        Ok(())
    }
}

/// Appends `value` as a JSON string.
fn json_str(out: &mut Vec<u8>, value: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Writes fields as JSON object members, as `tracing-subscriber`'s JSON format does: strings,
/// integers, floats and booleans as themselves, anything else (Debug, Display, errors) as
/// its text.
struct Members<'a> {
    out: &'a mut Vec<u8>,
    /// Whether no member has been written yet (no comma before the next).
    first: bool,
}

impl Members<'_> {
    /// Starts the member `field`; its value is written next.
    fn key(&mut self, field: &Field) -> &mut Vec<u8> {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        json_str(self.out, field.name());
        self.out.push(b':');
        self.out
    }
}

impl Visit for Members<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        json_str(self.key(field), value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        let _ = write!(self.key(field), "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let _ = write!(self.key(field), "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        let text: &[u8] = if value { b"true" } else { b"false" };
        self.key(field).extend_from_slice(text);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // Not finite: `null`, as serde_json writes it.
        let _ = serde_json::to_writer(self.key(field), &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        json_str(self.key(field), &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::sync::{Arc, Mutex};
    use tracing::level_filters::LevelFilter;

    /// The lines written through it.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    impl Lines {
        fn parsed(&self) -> Vec<Value> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect()
        }
    }

    /// Every kind of field, in and out of spans, with fields recorded on a span later.
    fn events() {
        let err = std::io::Error::other("disk \"full\"\n");
        tracing::info!(audit = "admin_listing", returned = 3usize, "listed");
        let span = tracing::info_span!(
            "Lambda runtime invoke",
            requestId = "req-1",
            xrayTraceId = tracing::field::Empty
        );
        let _guard = span.enter();
        tracing::warn!(
            count = -4i64,
            big = u64::MAX,
            ratio = 0.25f64,
            nan = f64::NAN,
            ok = true,
            shown = %"dis\tplay",
            debugged = ?Some("x"),
            error = &err as &(dyn std::error::Error + 'static),
            r#type = "raw",
            "quote \" and unicode é ✓ and {}", 42
        );
        span.record("xrayTraceId", "Root=1-abc");
        tracing::error!("after the record");
        let inner = tracing::info_span!("inner");
        let _inner = inner.enter();
        tracing::info!(x = 1u64, "in a span without fields");
        tracing::info!(parent: &span, "for its named parent");
    }

    /// The lines are those of tracing-subscriber's JSON format as the functions used to
    /// configure it, field for field, and each a JSON object on one line.
    #[test]
    fn lines_are_those_of_the_json_format() {
        let ours = Lines::default();
        let subscriber = builder().with_writer(ours.clone()).finish();
        tracing::subscriber::with_default(subscriber, events);
        let theirs = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_target(false)
            .with_writer(theirs.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, events);
        let (mut ours, mut theirs) = (ours.parsed(), theirs.parsed());
        assert_eq!(ours.len(), 5);
        for line in ours.iter_mut().chain(theirs.iter_mut()) {
            let time = line["timestamp"].take();
            let time = time.as_str().unwrap_or_default();
            assert!(
                chrono::DateTime::parse_from_rfc3339(time).is_ok() && time.ends_with('Z'),
                "{time}"
            );
        }
        assert_eq!(ours, theirs);
        assert_eq!(ours[1]["span"]["requestId"], "req-1");
        assert_eq!(ours[2]["span"]["xrayTraceId"], "Root=1-abc");
        assert_eq!(ours[1]["type"], "raw");
        assert_eq!(ours[3]["span"]["name"], "inner");
        assert_eq!(ours[4]["span"]["requestId"], "req-1");
    }

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
