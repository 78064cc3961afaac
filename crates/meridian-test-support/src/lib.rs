//! Test support: the in-process cluster sandbox ([`cluster::TestCluster`])
//! and the user-space fault proxy ([`fault_proxy::FaultProxy`]).
//!
//! The machines this project runs on have no `netem`, so network faults are
//! injected in user space as etcd's robustness tests do (`pkg/proxy`): every
//! directed peer link of a sandbox cluster goes through its own L4 proxy that
//! can drop everything (blackhole), delay, or reset its connections.
//! Everything binds 127.0.0.1 and stops when the test drops it.

pub mod cluster;
pub mod fault_proxy;
