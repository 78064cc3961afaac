//! W3C trace context (`traceparent`, `tracestate`) in gRPC metadata, so a
//! request's trace continues from the edge through write forwarding (and the
//! `Verifier`) on other nodes.
//!
//! [`inject`] writes the current span's context into an outgoing request;
//! [`continue_trace`] makes a server-side span a child of the context an
//! incoming request carries. Both go through the global propagator the
//! server installs with its OTLP exporter (`meridian_server::logging`);
//! without it they do nothing, at the cost of one lookup.

use opentelemetry::propagation::{Extractor, Injector};
use tonic::metadata::{KeyRef, MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct MetadataExtractor<'a>(&'a MetadataMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .filter_map(|key| match key {
                KeyRef::Ascii(key) => Some(key.as_str()),
                KeyRef::Binary(_) => None,
            })
            .collect()
    }
}

/// Puts the current span's trace context into `request`'s metadata.
pub fn inject<T>(request: &mut tonic::Request<T>) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MetadataInjector(request.metadata_mut()));
    });
}

/// Makes `span` a child of the trace context `request` carries, if any.
pub fn continue_trace<T>(request: &tonic::Request<T>, span: &tracing::Span) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&MetadataExtractor(request.metadata()))
    });
    // Fails only without the OpenTelemetry layer (OTLP off): nothing to do.
    let _ = span.set_parent(parent);
}
