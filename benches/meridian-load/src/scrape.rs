//! Counters scraped from Prometheus text (`GET /metrics`) before and after
//! a run, to report what a server counted — e.g. that the issue and verify
//! paths made zero calls to other nodes
//! (`meridian_request_outbound_calls_total`).
//!
//! Only the sample lines of the requested metric names are read; series are
//! keyed by their full text (`name{labels}`) and summed over the nodes.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;

use crate::http::{HttpClient, send};

/// Sample values of the series of `names` in exposition `text`.
pub fn parse(text: &str, names: &[String]) -> BTreeMap<String, f64> {
    let mut series = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        for name in names {
            let Some(rest) = line.strip_prefix(name.as_str()) else {
                continue;
            };
            // The name must end here (not be a prefix of a longer name).
            let (key, value) = if rest.starts_with('{') {
                let Some(close) = rest.find('}') else {
                    continue;
                };
                (&line[..name.len() + close + 1], &rest[close + 1..])
            } else if rest.starts_with(' ') {
                (name.as_str(), rest)
            } else {
                continue;
            };
            // Value, then an optional timestamp.
            if let Some(value) = value
                .split_ascii_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
            {
                *series.entry(key.to_owned()).or_insert(0.0) += value;
            }
        }
    }
    series
}

/// Scrapes `base/metrics` of every endpoint and sums the series of `names`;
/// `None` when any endpoint has no `/metrics`.
pub async fn scrape(
    http: &HttpClient,
    endpoints: &[(String, String)],
    names: &[String],
) -> Option<BTreeMap<String, f64>> {
    let mut total = BTreeMap::new();
    for (base, host) in endpoints {
        let request = Request::get(format!("{base}/metrics"))
            .header(http::header::HOST, host)
            .body(Full::new(Bytes::new()))
            .ok()?;
        let (status, body) = send(http, request).await.ok()?;
        if status != StatusCode::OK {
            return None;
        }
        for (key, value) in parse(&String::from_utf8_lossy(&body), names) {
            *total.entry(key).or_insert(0.0) += value;
        }
    }
    Some(total)
}

/// `after - before` per series (series absent before count from 0).
pub fn delta(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(key, value)| (key.clone(), value - before.get(key).copied().unwrap_or(0.0)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_of_the_named_metrics_are_read_and_summed() {
        let text = "# HELP meridian_request_outbound_calls_total Calls\n\
            # TYPE meridian_request_outbound_calls_total counter\n\
            meridian_request_outbound_calls_total{path=\"issue\"} 0\n\
            meridian_request_outbound_calls_total{path=\"config\"} 12 1700000000\n\
            meridian_request_outbound_calls_total_extra 5\n\
            meridian_edge_requests_total{service=\"sts\",action=\"AssumeRole\",outcome=\"ok\"} 1e3\n\
            other 1\n";
        let names = vec![
            "meridian_request_outbound_calls_total".to_owned(),
            "meridian_edge_requests_total".to_owned(),
        ];
        let parsed = parse(text, &names);
        assert_eq!(parsed.len(), 3, "{parsed:?}");
        assert_eq!(
            parsed["meridian_request_outbound_calls_total{path=\"issue\"}"],
            0.0
        );
        assert_eq!(
            parsed["meridian_request_outbound_calls_total{path=\"config\"}"],
            12.0
        );
        assert_eq!(
            parsed["meridian_edge_requests_total{service=\"sts\",action=\"AssumeRole\",outcome=\"ok\"}"],
            1000.0
        );
        let before = BTreeMap::from([("a".to_owned(), 2.0)]);
        let after = BTreeMap::from([("a".to_owned(), 5.0), ("b".to_owned(), 1.0)]);
        assert_eq!(
            delta(&before, &after),
            BTreeMap::from([("a".to_owned(), 3.0), ("b".to_owned(), 1.0)])
        );
    }
}
