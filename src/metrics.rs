//! Prometheus text metrics: requests by status class and a latency histogram.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds in microseconds. Most pages answer in under a millisecond or two, so
/// the buckets start at 100 µs; a request is counted against its exact duration, not
/// its whole milliseconds (1.9 ms used to land in the 1 ms bucket).
const BUCKETS_MICROS: [u64; 15] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000,
];

#[derive(Default)]
pub struct Metrics {
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; BUCKETS_MICROS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    pub fn observe(&self, status: u16, elapsed: Duration) {
        let class = usize::from((status / 100).clamp(1, 5)) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        for (bucket, le) in self.buckets.iter().zip(BUCKETS_MICROS) {
            if micros <= le {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn render(&self, pool_size: u32, pool_idle: usize) -> String {
        let mut out = String::new();
        out.push_str("# HELP leadline_http_requests_total HTTP requests by status class.\n");
        out.push_str("# TYPE leadline_http_requests_total counter\n");
        for (i, counter) in self.by_class.iter().enumerate() {
            let _ = writeln!(
                out,
                "leadline_http_requests_total{{class=\"{}xx\"}} {}",
                i + 1,
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP leadline_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE leadline_http_request_duration_seconds histogram\n");
        for (bucket, le) in self.buckets.iter().zip(BUCKETS_MICROS) {
            let _ = writeln!(
                out,
                "leadline_http_request_duration_seconds_bucket{{le=\"{}\"}} {}",
                le as f64 / 1e6,
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "leadline_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "leadline_http_request_duration_seconds_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "leadline_http_request_duration_seconds_count {count}");
        out.push_str("# HELP leadline_db_pool_connections Connections of the runtime pool.\n");
        out.push_str("# TYPE leadline_db_pool_connections gauge\n");
        let _ = writeln!(
            out,
            "leadline_db_pool_connections{{state=\"open\"}} {pool_size}"
        );
        let _ = writeln!(
            out,
            "leadline_db_pool_connections{{state=\"idle\"}} {pool_idle}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.observe(200, Duration::from_millis(3));
        m.observe(404, Duration::from_millis(30));
        m.observe(500, Duration::from_secs(9));
        m.observe(200, Duration::from_micros(1_900));
        m.observe(200, Duration::from_micros(180));
        let text = m.render(5, 2);
        // Below a millisecond, and not rounded down to one.
        assert!(
            text.contains("leadline_http_request_duration_seconds_bucket{le=\"0.00025\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("leadline_http_request_duration_seconds_bucket{le=\"0.001\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("leadline_http_request_duration_seconds_bucket{le=\"0.0025\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("leadline_http_requests_total{class=\"2xx\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("leadline_http_requests_total{class=\"4xx\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("leadline_http_request_duration_seconds_bucket{le=\"0.005\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("leadline_http_request_duration_seconds_bucket{le=\"0.05\"} 4"),
            "{text}"
        );
        assert!(
            text.contains("leadline_http_request_duration_seconds_bucket{le=\"+Inf\"} 5"),
            "{text}"
        );
    }
}
