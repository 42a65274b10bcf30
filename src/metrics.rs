//! Prometheus metrics through the `metrics` facade. Every part of the process records
//! to one global recorder (the server's requests, and the worker loops when they run
//! in the same process); `/metrics` renders it, and a worker on its own serves the
//! same text on `LEADLINE_WORKER_METRICS_ADDR`.
//!
//! What is recorded, and where:
//! - `leadline_http_requests_total{method,route,status}` and
//!   `leadline_http_request_duration_seconds{method,route}` (here, from `web::count_request`);
//!   `route` is the matched template (`/leads/{id}`), never the concrete path, so ids
//!   and tokens neither reach the scrape nor multiply its series;
//! - `leadline_db_pool_connections{state}` (at scrape time);
//! - `leadline_outreach_sends_total{channel,result}` (the dispatcher, at each
//!   provider's answer);
//! - `leadline_outbox_depth`, `leadline_outbox_lag_seconds` (sampled by the worker);
//! - `leadline_job_duration_seconds{kind,outcome}` and
//!   `leadline_schedule_duration_seconds{task,outcome}` (the job runner and schedules).

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Upper bounds in seconds of every `_seconds` histogram. Most pages answer in under a
/// millisecond or two, so the buckets start at 100 µs.
const BUCKETS_SECONDS: [f64; 17] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 60.0,
];

/// The process's recorder, installed on first use. Tests start many apps in one
/// process; they share it, as the parts of one server do.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS_SECONDS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Only a second recorder installed by some library before us could refuse
        // this; scrapes would then be empty, which the log explains.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
        }
        describe();
        handle.clone()
    })
}

/// Starts the recorder and its upkeep: histogram samples are folded into buckets every
/// few seconds instead of piling up between scrapes.
pub fn start() {
    let handle = handle();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            handle.run_upkeep();
        }
    });
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!("leadline_http_requests_total", "HTTP requests answered.");
    describe_histogram!(
        "leadline_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer a request."
    );
    describe_gauge!(
        "leadline_db_pool_connections",
        "Connections of the runtime pool."
    );
    describe_counter!(
        "leadline_outreach_sends_total",
        "Messages handed to a provider, by channel and what the provider answered."
    );
    describe_gauge!("leadline_outbox_depth", "Messages waiting in the outbox.");
    describe_gauge!(
        "leadline_outbox_lag_seconds",
        Unit::Seconds,
        "How long the oldest due message has been waiting."
    );
    describe_histogram!(
        "leadline_job_duration_seconds",
        Unit::Seconds,
        "Time an import or export attempt took."
    );
    describe_histogram!(
        "leadline_schedule_duration_seconds",
        Unit::Seconds,
        "Time a run of a recurring platform task took."
    );
}

/// One answered request.
pub fn observe_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let labels = [("method", method.to_string()), ("route", route.to_string())];
    metrics::counter!(
        "leadline_http_requests_total",
        &[
            ("method", method.to_string()),
            ("route", route.to_string()),
            ("status", status.to_string()),
        ]
    )
    .increment(1);
    metrics::histogram!("leadline_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
}

/// The text of a scrape, with the pool's gauges as they are now.
pub fn render(pool_size: u32, pool_idle: usize) -> String {
    let handle = handle();
    metrics::gauge!("leadline_db_pool_connections", "state" => "open").set(pool_size);
    metrics::gauge!("leadline_db_pool_connections", "state" => "idle").set(pool_idle as f64);
    handle.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_have_buckets_below_a_millisecond_and_routes_are_labels() {
        handle();
        observe_request("GET", "/leads/{id}", 200, Duration::from_micros(180));
        observe_request("GET", "/leads/{id}", 200, Duration::from_micros(1_900));
        observe_request("POST", "/api/{*fn_name}", 500, Duration::from_secs(9));
        let text = render(5, 2);
        let bucket = |le: &str| {
            format!(
                "leadline_http_request_duration_seconds_bucket{{method=\"GET\",route=\"/leads/{{id}}\",le=\"{le}\"}}"
            )
        };
        // 180 µs is below a millisecond and not rounded up to one.
        assert!(text.contains(&format!("{} 1", bucket("0.00025"))), "{text}");
        assert!(text.contains(&format!("{} 1", bucket("0.001"))), "{text}");
        assert!(text.contains(&format!("{} 2", bucket("0.0025"))), "{text}");
        assert!(text.contains(&format!("{} 2", bucket("+Inf"))), "{text}");
        assert!(
            text.contains(
                "leadline_http_requests_total{method=\"POST\",route=\"/api/{*fn_name}\",status=\"500\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("leadline_db_pool_connections{state=\"idle\"} 2"),
            "{text}"
        );
        assert!(text.contains("# TYPE leadline_http_request_duration_seconds histogram"));
    }
}
