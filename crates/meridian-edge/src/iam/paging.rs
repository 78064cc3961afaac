//! IAM pagination: `Marker` and `MaxItems` in, `IsTruncated` and `Marker` out.
//!
//! Every list is produced in a stable order of unique keys (the snapshot's
//! maps are sorted by lower-cased name, ARN or id), and a page starts at the
//! first key at or after the marker. The marker is the key of the first item
//! of the next page, hex-encoded so clients treat it as opaque. Starting
//! "at or after" rather than "exactly at" keeps paging correct when the item
//! the marker names is deleted between two pages. `MaxItems` is 1..1000 (the
//! model validates it) and defaults to 100 as AWS documents.

use crate::error::ApiError;
use crate::iam::Call;
use crate::model::ErrorCode;
use crate::xml::ResultWriter;

/// `MaxItems` when the request has none.
pub(super) const DEFAULT_MAX_ITEMS: usize = 100;

/// Where a page starts and how long it may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PageRequest {
    start: Option<String>,
    max_items: usize,
}

impl PageRequest {
    /// Reads `Marker` and `MaxItems` from the request.
    pub(super) fn from_call(call: &Call) -> Result<PageRequest, ApiError> {
        let start = call.str("Marker").map(decode_marker).transpose()?;
        let max_items = call
            .int("MaxItems")
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_ITEMS);
        Ok(PageRequest { start, max_items })
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Page<T> {
    /// The items of this page.
    pub(super) items: Vec<T>,
    /// The marker of the next page, when there is one.
    pub(super) next_marker: Option<String>,
}

impl<T> Page<T> {
    /// Writes `IsTruncated` and, when truncated, `Marker`.
    pub(super) fn write_tail(&self, w: &mut ResultWriter) {
        w.boolean("IsTruncated", self.next_marker.is_some())
            .opt_text("Marker", self.next_marker.as_deref());
    }
}

/// The page of `items` (sorted by their unique key, ascending) that `request`
/// asks for.
pub(super) fn paginate<K: AsRef<str>, T>(
    items: impl IntoIterator<Item = (K, T)>,
    request: &PageRequest,
) -> Page<T> {
    let mut rest = items
        .into_iter()
        .skip_while(|(key, _)| {
            request
                .start
                .as_deref()
                .is_some_and(|start| key.as_ref() < start)
        })
        .peekable();
    let mut page = Vec::new();
    while page.len() < request.max_items {
        match rest.next() {
            Some((_, item)) => page.push(item),
            None => break,
        }
    }
    let next_marker = rest.peek().map(|(key, _)| encode_marker(key.as_ref()));
    Page {
        items: page,
        next_marker,
    }
}

fn encode_marker(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02X}")).collect()
}

fn decode_marker(marker: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::new(ErrorCode::ValidationError, "Invalid Marker.");
    if !marker.len().is_multiple_of(2) {
        return Err(invalid());
    }
    let bytes = marker
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|digits| u8::from_str_radix(digits, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(invalid)?;
    String::from_utf8(bytes).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(start: Option<&str>, max_items: usize) -> PageRequest {
        PageRequest {
            start: start.map(str::to_owned),
            max_items,
        }
    }

    #[test]
    fn pages_walk_the_whole_list_once() {
        let keys: Vec<String> = (0..7).map(|i| format!("k{i}")).collect();
        let mut seen = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let start = marker.as_deref().map(decode_marker).transpose();
            let Ok(start) = start else {
                panic!("our own marker decodes")
            };
            let page = paginate(
                keys.iter().map(|k| (k.as_str(), k.clone())),
                &request(start.as_deref(), 3),
            );
            assert!(page.items.len() <= 3);
            seen.extend(page.items);
            match page.next_marker {
                Some(next) => marker = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, keys);
    }

    #[test]
    fn a_deleted_marker_item_does_not_lose_the_rest() {
        let page = paginate([("a", 1), ("c", 3), ("d", 4)], &request(Some("b"), 10));
        assert_eq!(page.items, vec![3, 4]);
        assert_eq!(page.next_marker, None);
    }

    #[test]
    fn markers_are_opaque_and_checked() {
        let marker = encode_marker("role/Ünï");
        assert!(marker.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(decode_marker(&marker).ok().as_deref(), Some("role/Ünï"));
        for bad in ["abc", "zz", "FF"] {
            assert_eq!(
                decode_marker(bad).map_err(|e| e.code()),
                Err(ErrorCode::ValidationError),
                "{bad}"
            );
        }
    }
}
