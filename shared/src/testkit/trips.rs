//! Counting DynamoDB requests and sequential round trips: an SDK interceptor (and the wire
//! client's observer) that records when each request starts and ends. The round-trip test and the benchmark put it on a state's
//! client; the functions themselves never carry it.

use crate::{AppState, Store};
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One DynamoDB request: its operation, when it started and when it ended (retries included).
#[derive(Debug, Clone)]
pub struct Trip {
    /// `GetItem`, `Query`, ...
    pub op: &'static str,
    /// When the SDK started the request.
    pub start: Instant,
    /// When it returned.
    pub end: Instant,
}

#[derive(Debug, Clone)]
struct Started(&'static str, Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// Records every request its client makes.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Recorded>>);

#[derive(Debug, Default)]
struct Recorded {
    trips: Vec<Trip>,
    /// A CPU clock (e.g. the thread's) read while requests are in flight, when measuring.
    clock: Option<fn() -> Duration>,
    in_flight: usize,
    span_start: Duration,
    /// Clock time spent with at least one request in flight.
    inside: Duration,
}

/// The operation of a type-erased SDK input (`Input` has `downcast_ref`).
macro_rules! operation_name {
    ($input:expr) => {{
        let input = $input;
        if input
            .downcast_ref::<operation::get_item::GetItemInput>()
            .is_some()
        {
            "GetItem"
        } else if input
            .downcast_ref::<operation::put_item::PutItemInput>()
            .is_some()
        {
            "PutItem"
        } else if input
            .downcast_ref::<operation::update_item::UpdateItemInput>()
            .is_some()
        {
            "UpdateItem"
        } else if input
            .downcast_ref::<operation::delete_item::DeleteItemInput>()
            .is_some()
        {
            "DeleteItem"
        } else if input
            .downcast_ref::<operation::query::QueryInput>()
            .is_some()
        {
            "Query"
        } else if input
            .downcast_ref::<operation::transact_write_items::TransactWriteItemsInput>()
            .is_some()
        {
            "TransactWriteItems"
        } else if input
            .downcast_ref::<operation::batch_get_item::BatchGetItemInput>()
            .is_some()
        {
            "BatchGetItem"
        } else {
            "other"
        }
    }};
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "RoundTripRecorder"
    }

    // Runs in the request's first poll, before it awaits anything: a request awaited
    // together with another one always starts before the other's end is recorded.
    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = operation_name!(context.input());
        let start = self.begin();
        cfg.interceptor_state().store_put(Started(op, start));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Started(op, start)) = cfg.load::<Started>() {
            self.finish(op, *start);
        }
        Ok(())
    }
}

/// The wire client's requests, recorded like the SDK client's.
impl crate::store::Observe for Recorder {
    fn started(&self, _op: &'static str) -> Instant {
        self.begin()
    }

    fn ended(&self, op: &'static str, start: Instant) {
        self.finish(op, start);
    }
}

impl Recorder {
    /// A request starts: when, and the CPU clock if the first in flight.
    fn begin(&self) -> Instant {
        if let Ok(mut rec) = self.0.lock()
            && let Some(clock) = rec.clock
        {
            if rec.in_flight == 0 {
                rec.span_start = clock();
            }
            rec.in_flight += 1;
        }
        Instant::now()
    }

    /// The request of `op` started at `start` has ended.
    fn finish(&self, op: &'static str, start: Instant) {
        let trip = Trip {
            op,
            start,
            end: Instant::now(),
        };
        if let Ok(mut rec) = self.0.lock() {
            rec.trips.push(trip);
            if let Some(clock) = rec.clock {
                rec.in_flight = rec.in_flight.saturating_sub(1);
                if rec.in_flight == 0 {
                    let spent = clock().saturating_sub(rec.span_start);
                    rec.inside += spent;
                }
            }
        }
    }

    /// A recorder that also reads `clock` (a CPU clock of the thread that drives the requests)
    /// whenever the first request starts and the last one ends, so that the time spent inside
    /// DynamoDB requests (the SDK's pipeline and the I/O) can be told from the caller's own.
    pub fn with_clock(clock: fn() -> Duration) -> Self {
        let rec = Recorded {
            clock: Some(clock),
            ..Recorded::default()
        };
        Self(Arc::new(Mutex::new(rec)))
    }

    /// Clock time spent with at least one request in flight since the last call.
    pub fn take_inside(&self) -> Duration {
        self.0
            .lock()
            .map(|mut r| std::mem::take(&mut r.inside))
            .unwrap_or_default()
    }

    /// The requests recorded since the last call, in order of start.
    pub fn take(&self) -> Vec<Trip> {
        let mut trips = self
            .0
            .lock()
            .map(|mut r| std::mem::take(&mut r.trips))
            .unwrap_or_default();
        trips.sort_by_key(|t| t.start);
        trips
    }
}

/// The longest chain of requests each of which started after the previous one ended: the
/// round trips of latency a request paid.
pub fn sequential(trips: &[Trip]) -> usize {
    let mut sorted = trips.to_vec();
    sorted.sort_by_key(|t| t.start);
    let mut depth = vec![0usize; sorted.len()];
    for i in 0..sorted.len() {
        depth[i] = 1
            + (0..i)
                .filter(|&j| sorted[j].end <= sorted[i].start)
                .map(|j| depth[j])
                .max()
                .unwrap_or(0);
    }
    depth.into_iter().max().unwrap_or(0)
}

/// A copy of `state` whose DynamoDB client records its requests.
pub fn instrument(state: &AppState) -> (AppState, Recorder) {
    let recorder = Recorder::default();
    (instrument_with(state, recorder.clone()), recorder)
}

/// A copy of `state` whose DynamoDB client reports to `recorder`.
pub fn instrument_with(state: &AppState, recorder: Recorder) -> AppState {
    let client = aws_sdk_dynamodb::Client::from_conf(
        state
            .store
            .client()
            .config()
            .to_builder()
            .interceptor(recorder.clone())
            .build(),
    );
    let wire = state.store.wire().observed(Arc::new(recorder));
    let mut instrumented = state.clone();
    instrumented.store = Store::new(client, wire, state.store.tables().clone());
    instrumented
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_awaited_together_share_a_round_trip() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + std::time::Duration::from_millis(ms);
        let trip = |op, s, e| Trip {
            op,
            start: at(s),
            end: at(e),
        };
        let trips = [
            trip("GetItem", 0, 10),
            trip("GetItem", 1, 12),
            trip("UpdateItem", 12, 20),
        ];
        assert_eq!(sequential(&trips), 2);
        assert_eq!(sequential(&trips[..2]), 1);
        assert_eq!(sequential(&[]), 0);
    }
}
