//! Counters for `/metrics`, in the Prometheus text format. Plain atomics: a scrape reads
//! them without stopping requests.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use taizhang_store::{AppendOutcome, EventStore};

use crate::ApiState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
pub struct Metrics {
    /// Requests by route and status code.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// GraphQL request latency: a count per bucket (the last is +Inf), and the sum.
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
    commands: AtomicU64,
    events: AtomicU64,
    /// Requests being held back right now before their refusal (a guessing client's:
    /// bad tokens, check codes, site codes, PINs).
    held: AtomicU64,
}

/// Counts a request among the held ones for as long as it lives, however its handler
/// ends (answered, or dropped when the client goes away).
pub(crate) struct Held<'a>(&'a AtomicU64);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn request(&self, route: &'static str, status: u16) {
        *self.requests.lock().expect("metrics lock").entry((route, status)).or_default() += 1;
    }

    pub fn graphql_latency(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(BUCKETS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros.fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn command_applied(&self, outcome: &AppendOutcome) {
        if !outcome.duplicate {
            self.commands.fetch_add(1, Ordering::Relaxed);
            self.events.fetch_add(outcome.last_position - outcome.first_position + 1, Ordering::Relaxed);
        }
    }

    /// Marks a request as held back until the returned guard is dropped.
    pub(crate) fn held(&self) -> Held<'_> {
        self.held.fetch_add(1, Ordering::Relaxed);
        Held(&self.held)
    }

    /// The text a scrape returns.
    pub fn render(&self, state: &ApiState) -> String {
        let mut out = String::new();
        out.push_str("# HELP taizhang_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE taizhang_http_requests_total counter\n");
        for ((route, status), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(out, "taizhang_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP taizhang_graphql_request_duration_seconds GraphQL request latency.\n");
        out.push_str("# TYPE taizhang_graphql_request_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, count) in self.latency.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = BUCKETS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "taizhang_graphql_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "taizhang_graphql_request_duration_seconds_sum {sum}");
        let _ = writeln!(out, "taizhang_graphql_request_duration_seconds_count {cumulative}");
        let counters = [
            ("taizhang_commands_total", "Commands that appended events.", self.commands.load(Ordering::Relaxed)),
            ("taizhang_events_appended_total", "Events appended by this server.", self.events.load(Ordering::Relaxed)),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        }
        let head = state.store().head();
        let projected = state.projector.position();
        let gauges = [
            ("taizhang_log_head_position", "The last durable log position.", head),
            ("taizhang_projection_position", "The last position the read model applied.", projected),
            ("taizhang_projection_lag_events", "Events durable but not yet projected.", head.saturating_sub(projected)),
            (
                "taizhang_auth_refusals_held",
                "Requests being held back before their refusal: a bad token, or a wrong certificate check code, check-in code or PIN.",
                self.held.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}
