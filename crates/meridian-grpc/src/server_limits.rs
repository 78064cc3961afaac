//! HTTP/2 settings of a node's gRPC port, set explicitly rather than left to
//! hyper's and h2's defaults.
//!
//! One port carries the Raft transport, the `Verifier` and the `Admin`
//! services, so these are connection-level protections shared by all of them
//! (RELIABILITY.md b.3, "HTTP/2 floods on the gRPC port"):
//!
//! * **max concurrent streams** per connection: without it a single
//!   connection may open streams without bound (h2's default is unlimited on
//!   the server side);
//! * **header list size**: a request's headers (after HPACK decoding) are
//!   capped well below hyper's 16 MiB default; gRPC metadata is small, and the
//!   CONTINUATION flood (RUSTSEC-2024-0332) is bounded by this cap in h2
//!   ≥ 0.4.4;
//! * **pending accept resets** and **local error resets**: the rapid-reset
//!   attack (CVE-2023-44487, fixed in h2 0.4.2) is answered with GOAWAY once a
//!   connection has this many reset-but-unaccepted or erroring streams;
//! * **frame size** and **keepalive**: the protocol default frame size, and
//!   pings that close connections whose peer vanished.
//!
//! The pinned h2 (`cargo tree -i h2`: 0.4.20) has both fixes. Per-service
//! limits — message sizes, concurrency and load shedding — are set where each
//! service is built, because the Raft transport must never be shed by
//! verifier load.

use std::time::Duration;

use tonic::transport::Server;

/// The connection-level settings of a node's gRPC server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrpcServerLimits {
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` per connection.
    pub max_concurrent_streams: u32,
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`, in bytes.
    pub max_header_list_size: u32,
    /// Streams reset by the peer before the server accepted them, per
    /// connection, before GOAWAY (rapid reset).
    pub max_pending_accept_reset_streams: usize,
    /// Streams the server had to reset because of a protocol error, per
    /// connection, before GOAWAY.
    pub max_local_error_reset_streams: usize,
    /// `SETTINGS_MAX_FRAME_SIZE`, in bytes (16 KiB is the protocol minimum
    /// and default).
    pub max_frame_size: u32,
    /// Interval of HTTP/2 keepalive pings.
    pub keepalive_interval: Duration,
    /// How long a keepalive ping may go unanswered before the connection is
    /// closed.
    pub keepalive_timeout: Duration,
}

impl GrpcServerLimits {
    /// Settings for a node on a 2-core machine: 256 streams per connection
    /// (a Raft peer uses a handful; the Meridian client pipelines at most a
    /// few dozen per channel), 16 KiB of headers (a SigV4-signed Admin call's
    /// metadata is about 2 KiB, the session token included), 20 pending
    /// resets (h2's own default, made explicit), 64 local error resets.
    pub const RECOMMENDED: GrpcServerLimits = GrpcServerLimits {
        max_concurrent_streams: 256,
        max_header_list_size: 16 * 1024,
        max_pending_accept_reset_streams: 20,
        max_local_error_reset_streams: 64,
        max_frame_size: 16 * 1024,
        keepalive_interval: Duration::from_secs(10),
        keepalive_timeout: Duration::from_secs(20),
    };

    /// Applies the settings to a server builder.
    pub fn apply<L>(self, server: Server<L>) -> Server<L> {
        server
            .max_concurrent_streams(self.max_concurrent_streams)
            .http2_max_header_list_size(self.max_header_list_size)
            .http2_max_pending_accept_reset_streams(Some(self.max_pending_accept_reset_streams))
            .http2_max_local_error_reset_streams(Some(self.max_local_error_reset_streams))
            .max_frame_size(self.max_frame_size)
            .http2_keepalive_interval(Some(self.keepalive_interval))
            .http2_keepalive_timeout(Some(self.keepalive_timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recommended_limits_are_tighter_than_the_library_defaults() {
        let limits = GrpcServerLimits::RECOMMENDED;
        // hyper's default header list is 16 MiB; h2 allows unbounded streams.
        assert!(limits.max_header_list_size <= 64 * 1024);
        assert!(limits.max_concurrent_streams <= 1024);
        // The protocol minimum frame size; anything larger must be deliberate.
        assert_eq!(limits.max_frame_size, 16 * 1024);
        assert!(limits.keepalive_timeout > limits.keepalive_interval);
    }
}
