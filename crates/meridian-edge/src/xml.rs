//! The query protocol's XML responses, written by hand.
//!
//! The documents are small and fixed in shape, so a writer that appends to a
//! `String` is both the fastest and the simplest option; the only subtle part
//! is escaping, done here once. The layout copies AWS's byte for byte
//! (two-space indentation, one element per line, a trailing newline), which
//! lets compatibility tests compare documents literally:
//!
//! ```text
//! <GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
//!   <GetCallerIdentityResult>
//!     <Arn>…</Arn>
//!   </GetCallerIdentityResult>
//!   <ResponseMetadata>
//!     <RequestId>…</RequestId>
//!   </ResponseMetadata>
//! </GetCallerIdentityResponse>
//! ```
//!
//! Operations build the inside of `{Op}Result` with [`XmlResult::build`] and
//! the typed methods of [`ResultWriter`]: lists are `<member>` items, maps
//! `<entry><key/><value/></entry>`, timestamps ISO 8601 UTC, and IAM policy
//! documents URL-encoded as AWS returns them (STS-API.md §2.3).

use meridian_core::time::Timestamp;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

use crate::model::OperationModel;

/// Appends `text` to `out` with XML escaping. Characters XML 1.0 cannot carry
/// at all (most C0 controls, unpaired surrogates cannot occur in `str`) become
/// U+FFFD, so echoing hostile input never yields a document clients reject;
/// carriage returns are kept as `&#xD;` so parsers do not normalise them away.
///
/// Runs of text that need no escaping (nearly all of a session token, an
/// ARN, a key id) are copied with one `push_str` each: the load profile of
/// AssumeRole showed the former per-character loop at 2.6 % of a node's CPU.
/// Every byte that may need escaping is ASCII, or the first byte (0xEF) of
/// U+FFFE/U+FFFF, so scanning bytes never splits a character.
pub fn escape_into(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len());
    let mut clean_from = 0;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let (replacement, width) = match byte {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' => ("&quot;", 1),
            b'\'' => ("&apos;", 1),
            b'\r' => ("&#xD;", 1),
            b'\t' | b'\n' => {
                i += 1;
                continue;
            }
            0..=0x1f => ("\u{FFFD}", 1),
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
            0xEF if bytes.get(i + 1) == Some(&0xBF)
                && matches!(bytes.get(i + 2), Some(0xBE | 0xBF)) =>
            {
                ("\u{FFFD}", 3)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        // `clean_from..i` and the replaced bytes are whole characters (the
        // boundaries sit at ASCII bytes or at the start of a 3-byte one).
        out.push_str(text.get(clean_from..i).unwrap_or_default());
        out.push_str(replacement);
        i += width;
        clean_from = i;
    }
    out.push_str(text.get(clean_from..).unwrap_or_default());
}

/// The characters IAM leaves unescaped when it URL-encodes policy documents:
/// Go's `url.QueryEscape` and Python's `quote` both accept this form.
const POLICY_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The finished content of an `{Op}Result` element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XmlResult {
    body: String,
}

impl XmlResult {
    /// No result element (operations without output, e.g. `DeleteRole`).
    pub fn empty() -> XmlResult {
        XmlResult::default()
    }

    /// Builds the members of the result with a [`ResultWriter`].
    pub fn build(write: impl FnOnce(&mut ResultWriter)) -> XmlResult {
        let mut writer = ResultWriter {
            out: String::with_capacity(512),
            depth: 2,
        };
        write(&mut writer);
        XmlResult { body: writer.out }
    }

    /// The success document for `operation` with `request_id`.
    pub fn into_document(self, operation: &OperationModel, request_id: &str) -> String {
        let namespace = operation.service.xml_namespace();
        let mut out = String::with_capacity(self.body.len() + 256);
        out.push('<');
        out.push_str(operation.name);
        out.push_str("Response xmlns=\"");
        escape_into(namespace, &mut out);
        out.push_str("\">\n");
        if let Some(wrapper) = operation.result_wrapper {
            if self.body.is_empty() {
                out.push_str("  <");
                out.push_str(wrapper);
                out.push_str("/>\n");
            } else {
                out.push_str("  <");
                out.push_str(wrapper);
                out.push_str(">\n");
                out.push_str(&self.body);
                out.push_str("  </");
                out.push_str(wrapper);
                out.push_str(">\n");
            }
        }
        out.push_str("  <ResponseMetadata>\n    <RequestId>");
        escape_into(request_id, &mut out);
        out.push_str("</RequestId>\n  </ResponseMetadata>\n</");
        out.push_str(operation.name);
        out.push_str("Response>\n");
        out
    }
}

/// Writes elements inside a result, at the right indentation.
#[derive(Debug)]
pub struct ResultWriter {
    out: String,
    depth: usize,
}

impl ResultWriter {
    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    fn open(&mut self, name: &str) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    fn raw_leaf(&mut self, name: &str, already_escaped: &str) -> &mut ResultWriter {
        self.open(name);
        self.out.push_str(already_escaped);
        self.close(name);
        self
    }

    /// `<name>value</name>` with escaping.
    pub fn text(&mut self, name: &str, value: &str) -> &mut ResultWriter {
        self.open(name);
        escape_into(value, &mut self.out);
        self.close(name);
        self
    }

    /// [`ResultWriter::text`] when `value` is present; nothing otherwise.
    pub fn opt_text(&mut self, name: &str, value: Option<&str>) -> &mut ResultWriter {
        if let Some(value) = value {
            self.text(name, value);
        }
        self
    }

    /// An integer element.
    pub fn integer(&mut self, name: &str, value: i64) -> &mut ResultWriter {
        self.raw_leaf(name, &value.to_string())
    }

    /// A boolean element (`true` / `false`).
    pub fn boolean(&mut self, name: &str, value: bool) -> &mut ResultWriter {
        self.raw_leaf(name, if value { "true" } else { "false" })
    }

    /// A timestamp element, ISO 8601 UTC with second precision
    /// (`2026-11-26T05:08:28Z`), as AWS writes `Expiration` and `CreateDate`.
    pub fn timestamp(&mut self, name: &str, value: Timestamp) -> &mut ResultWriter {
        self.raw_leaf(name, &value.to_iso8601_seconds())
    }

    /// An IAM policy document, URL-encoded as IAM returns every
    /// `policyDocumentType` (botocore and Terraform URL-decode it).
    pub fn policy_document(&mut self, name: &str, json: &str) -> &mut ResultWriter {
        let encoded = percent_encoding::utf8_percent_encode(json, POLICY_ESCAPE).to_string();
        self.raw_leaf(name, &encoded)
    }

    /// A nested structure `<name>…</name>`.
    pub fn structure(
        &mut self,
        name: &str,
        write: impl FnOnce(&mut ResultWriter),
    ) -> &mut ResultWriter {
        self.open(name);
        self.out.push('\n');
        self.depth += 1;
        write(self);
        self.depth -= 1;
        self.indent();
        self.close(name);
        self
    }

    /// A list of strings: `<name><member>a</member>…</name>`; an empty list
    /// is `<name/>`.
    pub fn text_list<'a>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = &'a str>,
    ) -> &mut ResultWriter {
        self.list(name, items, |w, item| {
            w.text("member", item);
        })
    }

    /// A list whose items are written by `write_item`, which must write
    /// exactly one `member` element per item (use [`ResultWriter::text`] or
    /// [`ResultWriter::structure`] with the name `member`).
    pub fn list<I: IntoIterator>(
        &mut self,
        name: &str,
        items: I,
        mut write_item: impl FnMut(&mut ResultWriter, I::Item),
    ) -> &mut ResultWriter {
        let mut items = items.into_iter().peekable();
        if items.peek().is_none() {
            self.indent();
            self.out.push('<');
            self.out.push_str(name);
            self.out.push_str("/>\n");
            return self;
        }
        self.structure(name, |w| {
            for item in items {
                write_item(w, item);
            }
        })
    }

    /// A map of strings: `<name><entry><key>k</key><value>v</value></entry>…</name>`.
    pub fn text_map<'a>(
        &mut self,
        name: &str,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> &mut ResultWriter {
        self.list(name, entries, |w, (key, value)| {
            w.structure("entry", |w| {
                w.text("key", key).text("value", value);
            });
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Service, operation};

    #[test]
    fn escapes_markup_and_unrepresentable_characters() {
        let mut out = String::new();
        escape_into("a<b>&\"'\r\n\t\u{1}z", &mut out);
        assert_eq!(out, "a&lt;b&gt;&amp;&quot;&apos;&#xD;\n\t\u{FFFD}z");
    }

    /// The per-character definition the fast version must agree with.
    fn escape_reference(text: &str) -> String {
        let mut out = String::new();
        for c in text.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&apos;"),
                '\r' => out.push_str("&#xD;"),
                '\t' | '\n' => out.push(c),
                c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                    out.push('\u{FFFD}')
                }
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn fast_escaping_agrees_with_the_per_character_definition() {
        // Every string of up to three characters over an alphabet of the
        // escaped characters, their neighbours in UTF-8 (U+EFBF, U+FFFD,
        // U+FFBE…) and ordinary text, in every position.
        let alphabet = [
            "a",
            "&",
            "<",
            ">",
            "\"",
            "'",
            "\r",
            "\n",
            "\t",
            "\u{0}",
            "\u{1f}",
            " ",
            "\u{7f}",
            "é",
            "\u{FFFE}",
            "\u{FFFF}",
            "\u{FFFD}",
            "\u{FFBE}",
            "\u{EFBF}",
            "\u{F0000}",
            "€",
        ];
        let mut checked = 0;
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    for text in [a.to_owned(), format!("{a}{b}"), format!("{a}{b}{c}")] {
                        let mut fast = String::from("prefix");
                        escape_into(&text, &mut fast);
                        assert_eq!(
                            fast,
                            format!("prefix{}", escape_reference(&text)),
                            "{text:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 21 * 21 * 21 * 3);
        let token = "IQoJb3JpZ2luX2VjEPT//////////wEaCXVzLWVhc3QtMSJHMEUCIQ".repeat(6);
        let mut out = String::new();
        escape_into(&token, &mut out);
        assert_eq!(out, token);
    }

    #[test]
    fn writes_the_envelope_like_aws() {
        let Some(op) = operation(Service::Sts, "GetCallerIdentity") else {
            panic!("modeled")
        };
        let doc = XmlResult::build(|w| {
            w.text("Arn", "arn:aws:iam::123456789012:user/a&b")
                .text("UserId", "AIDA")
                .text("Account", "123456789012");
        })
        .into_document(op, "rid");
        assert_eq!(
            doc,
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  \
             <GetCallerIdentityResult>\n    <Arn>arn:aws:iam::123456789012:user/a&amp;b</Arn>\n    \
             <UserId>AIDA</UserId>\n    <Account>123456789012</Account>\n  \
             </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>rid</RequestId>\n  \
             </ResponseMetadata>\n</GetCallerIdentityResponse>\n"
        );
    }

    #[test]
    fn operations_without_output_have_no_result_element() {
        let Some(op) = operation(Service::Iam, "DeleteRole") else {
            panic!("modeled")
        };
        let doc = XmlResult::empty().into_document(op, "rid");
        assert!(doc.starts_with(
            "<DeleteRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <ResponseMetadata>"
        ));
        assert!(!doc.contains("Result"));
    }

    #[test]
    fn lists_maps_structures_and_scalars() {
        let body = XmlResult::build(|w| {
            w.structure("Credentials", |w| {
                w.text("AccessKeyId", "ASIA")
                    .timestamp("Expiration", Timestamp::from_unix_seconds(1_795_669_708));
            })
            .text_list("PolicyNames", ["a", "b"])
            .text_list("Empty", [])
            .text_map("SummaryMap", [("Users", "1")])
            .integer("PackedPolicySize", 8)
            .boolean("IsTruncated", false)
            .policy_document("PolicyDocument", "{\"Version\": \"2012-10-17\"}");
        });
        assert_eq!(
            body.body,
            "    <Credentials>\n      <AccessKeyId>ASIA</AccessKeyId>\n      \
             <Expiration>2026-11-26T05:08:28Z</Expiration>\n    </Credentials>\n    \
             <PolicyNames>\n      <member>a</member>\n      <member>b</member>\n    </PolicyNames>\n    \
             <Empty/>\n    \
             <SummaryMap>\n      <entry>\n        <key>Users</key>\n        <value>1</value>\n      \
             </entry>\n    </SummaryMap>\n    \
             <PackedPolicySize>8</PackedPolicySize>\n    <IsTruncated>false</IsTruncated>\n    \
             <PolicyDocument>%7B%22Version%22%3A%20%222012-10-17%22%7D</PolicyDocument>\n"
        );
    }
}
