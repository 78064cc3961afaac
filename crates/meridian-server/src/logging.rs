//! Logs and traces of the process: the `tracing` subscriber (text or JSON
//! lines on stderr, filtered by `MERIDIAN_LOG`/`RUST_LOG`) and, when the
//! standard `OTEL_*` variables ask for it, an OpenTelemetry OTLP/gRPC span
//! exporter.
//!
//! OTLP is on when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, unless `OTEL_SDK_DISABLED=true` or
//! `OTEL_TRACES_EXPORTER=none`; the exporter itself reads the endpoint,
//! headers, timeout and compression variables, the SDK the sampler ones
//! (`OTEL_TRACES_SAMPLER`), the resource `OTEL_SERVICE_NAME` (default
//! `meridian`) and `OTEL_RESOURCE_ATTRIBUTES`. W3C `traceparent` is the
//! propagation format (`meridian_grpc::trace_context` carries it in gRPC
//! metadata).
//!
//! The SDK's batch processor exports from its own OS thread, where tonic
//! finds no Tokio reactor; the exporter therefore runs on a dedicated
//! one-thread runtime owned by the [`TelemetryGuard`] ([`OnRuntime`]), which
//! also keeps export traffic off the node's workers.
//!
//! Spans and events name identifiers only (request ids, actions, key ids,
//! node ids): never headers, bodies, tokens, signatures or secrets
//! (STYLE.md 2.6).

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

/// How logs are written.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// The `EnvFilter` directives (`info`, `meridian_edge=debug,info`, …).
    pub filter: String,
    /// JSON lines rather than text.
    pub json: bool,
    /// Colours (a terminal).
    pub ansi: bool,
}

/// Keeps the exporter alive; flushes and stops it when dropped.
#[derive(Default)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("otlp", &self.provider.is_some())
            .finish()
    }
}

impl TelemetryGuard {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown_with_timeout(Duration::from_secs(5))
        {
            tracing::warn!(%error, "span exporter did not shut down cleanly");
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Whether the `OTEL_*` variables (read through `var`) switch OTLP on.
pub fn otlp_requested(var: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|value| !value.trim().is_empty());
    let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
    !disabled && (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT"))
}

/// Installs the global subscriber (and the OTLP exporter when requested).
/// Fails if a subscriber is already installed or the exporter cannot be
/// built.
pub fn init(
    settings: &LogSettings,
    var: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt: Box<dyn Layer<_> + Send + Sync> = if settings.json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_ansi(settings.ansi)
            .with_writer(std::io::stderr)
            .boxed()
    };
    let mut guard = TelemetryGuard::default();
    let otel = if otlp_requested(var) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()?;
        let endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .unwrap_or_default();
        let exporter = {
            // tonic's channel is built inside the runtime it will run on.
            let _entered = runtime.enter();
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()?
        };
        let service = var("OTEL_SERVICE_NAME").unwrap_or_else(|| String::from("meridian"));
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(service)
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(OnRuntime {
                inner: Arc::new(exporter),
                runtime: runtime.handle().clone(),
            })
            .with_resource(resource)
            .build();
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let tracer = provider.tracer("meridian");
        guard.provider = Some(provider);
        guard.runtime = Some(runtime);
        Some(tracing_opentelemetry::layer().with_tracer(tracer))
    } else {
        None
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()?;
    Ok(guard)
}

/// Runs an exporter's futures on a runtime of their own (see the module
/// docs).
#[derive(Debug)]
pub struct OnRuntime<E> {
    inner: Arc<E>,
    runtime: tokio::runtime::Handle,
}

impl<E: SpanExporter + 'static> SpanExporter for OnRuntime<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let inner = Arc::clone(&self.inner);
        match self
            .runtime
            .spawn(async move { inner.export(batch).await })
            .await
        {
            Ok(result) => result,
            Err(error) => Err(OTelSdkError::InternalFailure(error.to_string())),
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}
