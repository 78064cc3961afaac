//! (being written: see the task that owns this module)
