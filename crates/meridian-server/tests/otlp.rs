//! OTLP export end to end: the node's telemetry set up from `OTEL_*`
//! settings sends spans to a collector (a tiny OTLP/gRPC trace service run
//! by the test), and a write made on a follower inside a request span is
//! forwarded to the leader with its W3C trace context, so the leader's
//! `forward_write` span lands in the same trace.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meridian_core::config::command::Command;
use meridian_core::ids::AccountId;
use meridian_server::logging::{LogSettings, init};
use meridian_test_support::cluster::{TestCluster, test_timings};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use tracing::Instrument;

/// Every span the collector received.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans);
        self.spans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

async fn start_collector() -> (Collector, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let collector = Collector::default();
    let service = TraceServiceServer::new(collector.clone());
    tokio::spawn(async move {
        let _ = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await;
    });
    (collector, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_and_follow_forwarded_writes() {
    let (collector, addr) = start_collector().await;
    let endpoint = format!("http://{addr}");
    let var = move |name: &str| match name {
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
        "OTEL_SERVICE_NAME" => Some(String::from("meridian-otlp-test")),
        _ => None,
    };
    let guard = init(
        &LogSettings {
            filter: String::from("info"),
            json: false,
            ansi: false,
        },
        &var,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(guard.exporting());

    let mut cluster = TestCluster::start(3, test_timings()).await;
    let leader = cluster
        .leader(Duration::from_secs(20))
        .await
        .unwrap_or_else(|| panic!("no leader"));
    let follower = cluster
        .running()
        .into_iter()
        .find(|id| *id != leader)
        .unwrap_or_else(|| panic!("no follower"));
    let account = AccountId::parse("123456789012").unwrap_or_else(|e| panic!("{e}"));
    let request = cluster.request(Command::CreateAccount {
        account_id: account,
        name: String::from("traced"),
    });
    cluster
        .node(follower)
        .write(request)
        .instrument(tracing::info_span!(
            "edge_request",
            request_id = "otlp-test"
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    cluster.shutdown().await;
    // Flushes the batch processor (blocking: off the async workers).
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let spans = collector
        .spans
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let root = spans
        .iter()
        .find(|span| span.name == "edge_request")
        .unwrap_or_else(|| panic!("no edge_request span among {} spans", spans.len()));
    let forwarded = spans
        .iter()
        .find(|span| span.name == "forward_write")
        .unwrap_or_else(|| {
            let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
            panic!("no forward_write span: {names:?}")
        });
    assert_eq!(
        forwarded.trace_id, root.trace_id,
        "the forwarded write left the trace"
    );
    assert_eq!(forwarded.parent_span_id, root.span_id);
    assert_eq!(root.trace_id.len(), 16);
}
