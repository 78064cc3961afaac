//! (being written: see the task that owns this bench)

fn main() {}
