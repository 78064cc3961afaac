//! Condition keys of a request, typed, for `authorize` calls, and the error
//! a Verifier status carries.
//!
//! Keys are the resource service's own (`widgets:Color`) or the global ones
//! a request defines (`aws:RequestTag/…`, `aws:ResourceTag/…`,
//! `aws:TagKeys`, `aws:SecureTransport`). Keys Meridian derives from the
//! credentials (`aws:PrincipalArn`, `aws:userid`, `aws:TokenIssueTime`,
//! `aws:SourceIp`, …) are refused: pass the client address with
//! [`crate::SignedRequest::with_source_ip`] instead. A key given several
//! times is multi-valued (`ForAnyValue:`/`ForAllValues:`).

use std::net::IpAddr;

use meridian_proto::pb;
use meridian_proto::pb::context_entry::Value;
use prost::Message as _;

/// A string-valued key.
pub fn string(key: &str, value: &str) -> pb::ContextEntry {
    entry(key, Value::StringValue(value.to_owned()))
}

/// A numeric key.
pub fn number(key: &str, value: f64) -> pb::ContextEntry {
    entry(key, Value::NumberValue(value))
}

/// A date key, in Unix milliseconds.
pub fn date_ms(key: &str, unix_millis: i64) -> pb::ContextEntry {
    entry(key, Value::DateValueMs(unix_millis))
}

/// A boolean key.
pub fn boolean(key: &str, value: bool) -> pb::ContextEntry {
    entry(key, Value::BoolValue(value))
}

/// An IP-address key.
pub fn ip(key: &str, value: IpAddr) -> pb::ContextEntry {
    entry(key, Value::IpValue(value.to_string()))
}

fn entry(key: &str, value: Value) -> pb::ContextEntry {
    pb::ContextEntry {
        key: key.to_owned(),
        value: Some(value),
    }
}

/// The Verifier's error carried in a status's details, if any.
pub fn failure_of(status: &tonic::Status) -> Option<pb::VerifierError> {
    if status.details().is_empty() {
        return None;
    }
    pb::VerifierError::decode(status.details()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_carry_their_types() {
        assert_eq!(
            string("widgets:Color", "blue").value,
            Some(Value::StringValue("blue".into()))
        );
        assert_eq!(
            number("widgets:Size", 3.0).value,
            Some(Value::NumberValue(3.0))
        );
        assert_eq!(
            boolean("aws:SecureTransport", true).value,
            Some(Value::BoolValue(true))
        );
        assert_eq!(
            date_ms("widgets:Since", 5).value,
            Some(Value::DateValueMs(5))
        );
        let localhost: IpAddr = "127.0.0.1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ip("widgets:Peer", localhost).value,
            Some(Value::IpValue("127.0.0.1".into()))
        );
        assert_eq!(failure_of(&tonic::Status::unavailable("x")), None);
    }
}
