//! `meridian audit verify FILE…`: checks the hash chain of audit trail
//! files (`{data_dir}/audit/audit-*.jsonl`), oldest first, and prints how
//! far it reaches and its head hash (to compare with an anchor kept
//! elsewhere). Exit status 1 names the first line that breaks the chain.
//!
//! The format and the checks are `meridian_server::audit` (record and
//! verify); this is only the command around them.

use std::path::PathBuf;

use anyhow::bail;
use meridian_server::audit::verify::verify_files;

/// Verifies `files` in the order given; `partial` accepts a trail whose
/// older files are not among them. Returns the report to print.
pub fn verify(files: &[PathBuf], partial: bool) -> anyhow::Result<String> {
    if files.is_empty() {
        bail!("no audit file given");
    }
    let summary = verify_files(files, partial)?;
    let range = match (summary.first_seq, summary.last_seq) {
        (Some(first), Some(last)) => format!("records {first} to {last}"),
        _ => String::from("no records"),
    };
    Ok(format!(
        "ok: {} records in {} file(s), {range}, head {}",
        summary.records,
        files.len(),
        summary.head
    ))
}
