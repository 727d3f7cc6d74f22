//! The cost model: published prices and the request units of a call's DynamoDB requests.

/// Prices (us-east-1, on-demand, as published for 2026): Lambda arm64 per GB-second and per
/// request, HTTP API per request, DynamoDB per read and write request unit.
pub(crate) const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
pub(crate) const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
pub(crate) const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
pub(crate) const DDB_RRU: f64 = 0.125 / 1e6;
pub(crate) const DDB_WRU: f64 = 0.625 / 1e6;
/// A DynamoDB round trip from Lambda in the same region, for the cost model.
pub(crate) const DDB_ROUND_TRIP_MS: f64 = 4.0;

/// (read units, write units) of one call's requests, for items under 1 KB (writes) and pages
/// under 4 KB (reads): strongly consistent reads 1 RRU, index queries 0.5, writes 1 WRU,
/// transactions twice the units of their items (assumed three), a batch read 1 RRU per item
/// (`batch_items` of them).
pub(crate) fn units(ops: &[&str], batch_items: f64) -> (f64, f64) {
    ops.iter().fold((0.0, 0.0), |(r, w), op| match *op {
        "GetItem" => (r + 1.0, w),
        "BatchGetItem" => (r + batch_items, w),
        "Query" => (r + 0.5, w),
        "UpdateItem" | "PutItem" | "DeleteItem" => (r, w + 1.0),
        "TransactWriteItems" => (r, w + 6.0),
        _ => (r, w),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_read_costs_a_read_unit_per_item() {
        assert_eq!(units(&["BatchGetItem", "Query"], 3.0), (3.5, 0.0));
        assert_eq!(units(&["BatchGetItem", "UpdateItem"], 2.0), (2.0, 1.0));
        assert_eq!(units(&["TransactWriteItems"], 2.0), (0.0, 6.0));
    }
}
