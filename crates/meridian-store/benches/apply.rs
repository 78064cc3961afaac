//! Criterion benches of the state machine's CPU work (filled in below).
fn main() {}
