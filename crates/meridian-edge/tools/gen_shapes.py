#!/usr/bin/env python3
"""Generate meridian-edge's request model from botocore's service models.

The STS and IAM query APIs that Meridian serves are specified by botocore's
own service models (`botocore/data/sts/2011-06-15/service-2.json.gz` and
`botocore/data/iam/2010-05-08/service-2.json.gz`). This script reads them and
writes `src/model/generated.rs`: the input shapes of the STS operations and of
the IAM subset of STS-API.md section 4 (member names, types, required flags,
length/value/pattern/enum constraints, list limits), one row per operation,
and the catalogue of error codes (every exception both models define, plus
the unmodeled codes AWS answers with; see UNMODELED below).

Only what the edge needs is emitted: shapes reachable from the inputs of the
selected operations, and no documentation strings.

Usage (botocore pinned; any throwaway venv will do):

    python3 -m venv /tmp/bcvenv && /tmp/bcvenv/bin/pip install botocore==1.44.8
    /tmp/bcvenv/bin/python crates/meridian-edge/tools/gen_shapes.py
    rustfmt --edition 2024 crates/meridian-edge/src/model/generated.rs

`--check` exits non-zero when the committed file differs from what the
installed botocore would produce (after rustfmt).

The models are Apache-2.0 (Copyright Amazon.com, Inc. or its affiliates);
see tools/BOTOCORE-NOTICE.
"""

import argparse
import gzip
import json
import os
import re
import sys

BOTOCORE_VERSION = "1.44.8"

SERVICES = [
    ("Sts", "sts", "2011-06-15"),
    ("Iam", "iam", "2010-05-08"),
]

# STS: every operation of the model.
STS_OPERATIONS = None

# IAM: the subset of STS-API.md section 4.
IAM_OPERATIONS = """
CreateUser GetUser ListUsers UpdateUser DeleteUser TagUser UntagUser ListUserTags
PutUserPermissionsBoundary DeleteUserPermissionsBoundary
CreateAccessKey ListAccessKeys UpdateAccessKey DeleteAccessKey GetAccessKeyLastUsed
CreateRole GetRole ListRoles UpdateRole UpdateRoleDescription UpdateAssumeRolePolicy DeleteRole
TagRole UntagRole ListRoleTags PutRolePermissionsBoundary DeleteRolePermissionsBoundary
ListInstanceProfilesForRole
PutRolePolicy GetRolePolicy ListRolePolicies DeleteRolePolicy
PutUserPolicy GetUserPolicy ListUserPolicies DeleteUserPolicy PutGroupPolicy
CreatePolicy GetPolicy ListPolicies DeletePolicy CreatePolicyVersion GetPolicyVersion
ListPolicyVersions DeletePolicyVersion SetDefaultPolicyVersion TagPolicy UntagPolicy ListPolicyTags
AttachRolePolicy DetachRolePolicy ListAttachedRolePolicies AttachUserPolicy DetachUserPolicy
ListAttachedUserPolicies AttachGroupPolicy ListEntitiesForPolicy
CreateGroup GetGroup DeleteGroup AddUserToGroup RemoveUserFromGroup ListGroupsForUser
CreateOpenIDConnectProvider GetOpenIDConnectProvider ListOpenIDConnectProviders
DeleteOpenIDConnectProvider AddClientIDToOpenIDConnectProvider
RemoveClientIDFromOpenIDConnectProvider UpdateOpenIDConnectProviderThumbprint
TagOpenIDConnectProvider UntagOpenIDConnectProvider ListOpenIDConnectProviderTags
CreateSAMLProvider GetSAMLProvider ListSAMLProviders UpdateSAMLProvider DeleteSAMLProvider
TagSAMLProvider UntagSAMLProvider ListSAMLProviderTags
CreateVirtualMFADevice EnableMFADevice DeactivateMFADevice DeleteVirtualMFADevice
ListMFADevices ListVirtualMFADevices
SetSecurityTokenServicePreferences GetAccountSummary
EnableOutboundWebIdentityFederation DisableOutboundWebIdentityFederation
GetOutboundWebIdentityFederationInfo
SimulatePrincipalPolicy SimulateCustomPolicy
""".split()

# Codes AWS answers with that neither model defines (STS-API.md sections 1.5
# and 3.4), plus Meridian's own edge codes (marked "meridian"). Each is
# (code, HTTP status, sender fault, where the status comes from).
UNMODELED = [
    ("AccessDenied", 403, True, "STS-API.md 1.5"),
    ("ExpiredToken", 403, True, "STS-API.md 1.5"),
    ("IncompleteSignature", 400, True, "STS-API.md 3.4"),
    ("InternalFailure", 500, False, "STS-API.md 3.4"),
    ("InvalidAction", 400, True, "STS-API.md 3.4; AWS-recorded probe"),
    ("InvalidClientTokenId", 403, True, "STS-API.md 1.5"),
    ("InvalidParameterCombination", 400, True, "AWS common errors"),
    ("InvalidParameterValue", 400, True, "STS-API.md 1.5"),
    ("MalformedInput", 400, True, "AWS-recorded probe (non-numeric DurationSeconds)"),
    ("MalformedQueryString", 400, True, "STS-API.md 3.4 (scratchstack: 400)"),
    ("MissingAuthenticationToken", 403, True, "STS-API.md 3.4 (AWS common errors: 403)"),
    ("MissingParameter", 400, True, "STS-API.md 3.4"),
    ("OptInRequired", 403, True, "STS-API.md 3.4"),
    ("RequestExpired", 400, True, "AWS common errors"),
    ("ServiceUnavailable", 503, False, "STS-API.md 3.4"),
    ("SignatureDoesNotMatch", 403, True, "STS-API.md 3.4"),
    ("Throttling", 400, True, "STS-API.md 1.5 (botocore retries Throttling/400)"),
    ("ValidationError", 400, True, "STS-API.md 1.5"),
    ("NotImplemented", 501, False, "meridian: modeled operation not wired yet"),
    ("RequestEntityTooLarge", 413, True, "meridian: body over the edge limit"),
    ("RequestTimeout", 408, True, "meridian: body not received in time"),
]


def find_botocore_data(explicit):
    if explicit:
        return explicit
    import botocore  # noqa: PLC0415 - only needed when no path is given

    if botocore.__version__ != BOTOCORE_VERSION:
        sys.exit(f"botocore {botocore.__version__} installed; pin {BOTOCORE_VERSION}")
    return os.path.join(os.path.dirname(botocore.__file__), "data")


def load(data_dir, name, version):
    path = os.path.join(data_dir, name, version, "service-2.json.gz")
    if os.path.exists(path):
        with gzip.open(path) as f:
            return json.load(f)
    with open(path[: -len(".gz")]) as f:
        return json.load(f)


def java_regex_to_rust(pattern):
    """Translate a model pattern (Java regex syntax, matched with
    `String.matches`, so anchored) into an anchored Rust `regex` pattern with
    the same meaning.

    * `\\uXXXX` takes exactly four hex digits in Java, so the model's
      `\\u10000-\\u10FFFF` means `\\u1000`, `0-\\u10FF`, `F`, `F` (AWS rejects
      supplementary characters in ARNs for exactly this reason); we keep that.
    * `\\w`, `\\d` and `\\s` are ASCII-only in Java; Rust's are Unicode.
    * `\\p{L}` etc. are Unicode in both.
    """
    out = []
    i = 0
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            n = pattern[i + 1]
            if n == "u":
                hexd = pattern[i + 2 : i + 6]
                if not re.fullmatch(r"[0-9A-Fa-f]{4}", hexd):
                    sys.exit(f"bad \\u escape in {pattern!r}")
                out.append("\\x{%s}" % hexd.upper())
                i += 6
                continue
            if n == "x":
                hexd = pattern[i + 2 : i + 4]
                out.append("\\x{%s}" % hexd.upper())
                i += 4
                continue
            ascii_classes = {"w": "0-9A-Za-z_", "d": "0-9", "s": " \\t\\n\\x0B\\x0C\\r"}
            if n in ascii_classes:
                body = ascii_classes[n]
                out.append(body if in_class else "[" + body + "]")
                i += 2
                continue
            if n in "/:":
                # Java allows escaping any punctuation; say it plainly.
                out.append(n)
                i += 2
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        elif c == "(" and pattern[i : i + 3] in ("(?!", "(?="):
            sys.exit(f"lookaround in reachable pattern {pattern!r}; not supported by the regex crate")
        out.append(c)
        i += 1
    return "\\A(?:" + "".join(out) + ")\\z"


def rust_str(s):
    """A Rust string literal (raw when possible, for readable patterns)."""
    if '"#' not in s and "\n" not in s:
        return 'r#"' + s + '"#'
    return json.dumps(s)


class Gen:
    def __init__(self):
        self.shapes = []  # list of (service, name, rust_expr)
        self.index = {}  # (service, name) -> id
        self.patterns = []
        self.pattern_index = {}

    def pattern_id(self, pattern):
        if pattern not in self.pattern_index:
            self.pattern_index[pattern] = len(self.patterns)
            self.patterns.append(pattern)
        return self.pattern_index[pattern]

    def shape_id(self, service, model, name):
        key = (service, name)
        if key in self.index:
            return self.index[key]
        sid = len(self.shapes)
        self.index[key] = sid
        self.shapes.append(None)
        self.shapes[sid] = (service, name, self.shape_expr(service, model, name))
        return sid

    def shape_expr(self, service, model, name):
        s = model["shapes"][name]
        t = s["type"]

        def opt(key, conv=str):
            return f"Some({conv(s[key])})" if key in s else "None"

        if t == "string":
            enum = ", ".join(rust_str(v) for v in s.get("enum", []))
            pattern = f"Some({self.pattern_id(s['pattern'])})" if "pattern" in s else "None"
            return (
                "ShapeKind::String(StringShape { "
                f"min: {opt('min')}, max: {opt('max')}, pattern: {pattern}, "
                f"enum_values: &[{enum}], sensitive: {str(bool(s.get('sensitive'))).lower()} }})"
            )
        if t in ("integer", "long"):
            bits = "32" if t == "integer" else "64"
            return (
                f"ShapeKind::Integer(IntegerShape {{ bits: {bits}, "
                f"min: {opt('min')}, max: {opt('max')} }})"
            )
        if t == "boolean":
            return "ShapeKind::Boolean"
        if t == "timestamp":
            return "ShapeKind::Timestamp"
        if t == "blob":
            return f"ShapeKind::Blob {{ sensitive: {str(bool(s.get('sensitive'))).lower()} }}"
        if t == "list":
            member = s["member"]
            mid = self.shape_id(service, model, member["shape"])
            wire = member.get("locationName", "member")
            return (
                f"ShapeKind::List(ListShape {{ member: {mid}, member_name: {rust_str(wire)}, "
                f"flattened: {str(bool(s.get('flattened'))).lower()}, "
                f"min: {opt('min')}, max: {opt('max')} }})"
            )
        if t == "map":
            kid = self.shape_id(service, model, s["key"]["shape"])
            vid = self.shape_id(service, model, s["value"]["shape"])
            kname = s["key"].get("locationName", "key")
            vname = s["value"].get("locationName", "value")
            return (
                f"ShapeKind::Map(MapShape {{ key: {kid}, value: {vid}, "
                f"key_name: {rust_str(kname)}, value_name: {rust_str(vname)}, "
                f"flattened: {str(bool(s.get('flattened'))).lower()}, "
                f"min: {opt('min')}, max: {opt('max')} }})"
            )
        if t == "structure":
            required = set(s.get("required", []))
            members = []
            for mname, m in s.get("members", {}).items():
                mid = self.shape_id(service, model, m["shape"])
                wire = m.get("locationName", mname)
                members.append(
                    f"MemberModel {{ name: {rust_str(mname)}, wire_name: {rust_str(wire)}, "
                    f"shape: {mid}, required: {str(mname in required).lower()} }}"
                )
            return (
                "ShapeKind::Structure(StructureShape { members: &[" + ", ".join(members) + "], "
                f"union: {str(bool(s.get('union'))).lower()} }})"
            )
        sys.exit(f"unsupported shape type {t} for {name}")


def generate(data_dir):
    gen = Gen()
    operations = []
    errors = {}  # code -> (status, sender, variant, source)
    metadata = {}
    for variant, name, version in SERVICES:
        model = load(data_dir, name, version)
        metadata[variant] = model["metadata"]
        selected = IAM_OPERATIONS if name == "iam" else list(model["operations"])
        for op_name in selected:
            op = model["operations"][op_name]
            input_id = "None"
            if "input" in op:
                input_id = f"Some({gen.shape_id(variant, model, op['input']['shape'])})"
            wrapper = op.get("output", {}).get("resultWrapper")
            unsigned = op.get("authtype") == "none" or op.get("auth") == ["smithy.api#noAuth"]
            op_errors = []
            for e in op.get("errors", []):
                shape = model["shapes"][e["shape"]]
                op_errors.append(shape.get("error", {}).get("code", e["shape"]))
            operations.append((variant, op_name, input_id, wrapper, unsigned, op_errors))
        for shape_name, shape in model["shapes"].items():
            if not shape.get("exception"):
                continue
            err = shape.get("error", {})
            code = err.get("code", shape_name)
            status = err.get("httpStatusCode", 400)
            sender = bool(err.get("senderFault", False))
            source = f"{name} model {shape_name}"
            if code in errors and errors[code][:2] != (status, sender):
                sys.exit(f"error code {code} differs between services")
            errors.setdefault(code, (status, sender, source))
    for code, status, sender, source in UNMODELED:
        if code in errors:
            sys.exit(f"{code} is modeled; remove it from UNMODELED")
        errors[code] = (status, sender, source)

    out = []
    w = out.append
    w("//! Generated by `tools/gen_shapes.py` from botocore %s's STS and IAM" % BOTOCORE_VERSION)
    w("//! service models (Apache-2.0, Copyright Amazon.com, Inc. or its affiliates;")
    w("//! see `tools/BOTOCORE-NOTICE`). Do not edit by hand: rerun the script.")
    w("//!")
    w("//! Tables: `PATTERNS` (model regex, anchored Rust translation), `SHAPES`")
    w("//! (input shapes reachable from the selected operations, indexed by")
    w("//! `ShapeId`), `OPERATIONS` and the `ErrorCode` catalogue.")
    w("")
    w("// Not every table uses every shape kind (no input of STS or IAM is a map).")
    w("#[allow(unused_imports)]")
    w("use super::{")
    w("    IntegerShape, ListShape, MapShape, MemberModel, OperationModel, PatternModel, Service,")
    w("    ShapeKind, ShapeModel, StringShape, StructureShape,")
    w("};")
    w("")
    w(f"/// The botocore release the tables were generated from.")
    w(f'pub const BOTOCORE_VERSION: &str = "{BOTOCORE_VERSION}";')
    w("")
    w("/// Every model pattern reachable from the selected inputs.")
    w(f"pub static PATTERNS: [PatternModel; {len(gen.patterns)}] = [")
    for p in gen.patterns:
        w(f"    PatternModel {{ model: {rust_str(p)}, rust: {rust_str(java_regex_to_rust(p))} }},")
    w("];")
    w("")
    w("/// Input shapes, indexed by `ShapeId`.")
    w(f"pub static SHAPES: [ShapeModel; {len(gen.shapes)}] = [")
    for service, name, expr in gen.shapes:
        w(f"    ShapeModel {{ service: Service::{service}, name: {rust_str(name)}, kind: {expr} }},")
    w("];")
    w("")
    w("/// The operations served, in model order per service.")
    w(f"pub static OPERATIONS: [OperationModel; {len(operations)}] = [")
    for variant, op_name, input_id, wrapper, unsigned, op_errors in operations:
        wr = f"Some({rust_str(wrapper)})" if wrapper else "None"
        errs = ", ".join(f"ErrorCode::{c}" for c in op_errors)
        w(
            f"    OperationModel {{ service: Service::{variant}, name: {rust_str(op_name)}, "
            f"input: {input_id}, result_wrapper: {wr}, unsigned: {str(unsigned).lower()}, "
            f"errors: &[{errs}] }},"
        )
    w("];")
    w("")
    w("/// Every error code the edge can answer with: all exceptions of the STS and")
    w("/// IAM models, the unmodeled codes AWS uses (STS-API.md 1.5 and 3.4), and")
    w("/// Meridian's own edge codes. The variant name is the byte-exact wire code.")
    w("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]")
    w("pub enum ErrorCode {")
    for code in sorted(errors):
        status, sender, source = errors[code]
        w(f"    /// HTTP {status}, {'Sender' if sender else 'Receiver'} ({source}).")
        w(f"    {code},")
    w("}")
    w("")
    w("impl ErrorCode {")
    w("    /// Every code, sorted by name.")
    w("    pub const ALL: &'static [ErrorCode] = &[")
    for code in sorted(errors):
        w(f"        ErrorCode::{code},")
    w("    ];")
    w("")
    w("    /// The `<Code>` string.")
    w("    pub const fn as_str(self) -> &'static str {")
    w("        match self {")
    for code in sorted(errors):
        w(f'            ErrorCode::{code} => "{code}",')
    w("        }")
    w("    }")
    w("")
    w("    /// The code whose wire string is `code` (to map codes that core")
    w("    /// errors carry as strings, e.g. `SigV4Error::code`).")
    w("    pub fn from_code(code: &str) -> Option<ErrorCode> {")
    w("        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code)")
    w("    }")
    w("")
    w("    /// The HTTP status AWS answers with.")
    w("    pub const fn http_status(self) -> u16 {")
    w("        match self {")
    for code in sorted(errors):
        w(f"            ErrorCode::{code} => {errors[code][0]},")
    w("        }")
    w("    }")
    w("")
    w("    /// Whether the fault is the sender's (`<Type>Sender</Type>`).")
    w("    pub const fn sender_fault(self) -> bool {")
    w("        match self {")
    for code in sorted(errors):
        w(f"            ErrorCode::{code} => {str(errors[code][1]).lower()},")
    w("        }")
    w("    }")
    w("}")
    w("")
    for variant, _, _ in SERVICES:
        md = metadata[variant]
        w(f"/// `Version` of the {variant.upper()} API (model metadata `apiVersion`).")
        w(f"pub const {variant.upper()}_API_VERSION: &str = \"{md['apiVersion']}\";")
        w(f"/// XML namespace of {variant.upper()} responses (model metadata `xmlNamespace`).")
        w(f"pub const {variant.upper()}_XML_NAMESPACE: &str = \"{md['xmlNamespace']}\";")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--botocore-data", help="botocore/data directory (default: the installed botocore)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "src", "model", "generated.rs"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = generate(find_botocore_data(args.botocore_data))
    if args.check:
        import subprocess  # noqa: PLC0415
        import tempfile  # noqa: PLC0415

        with tempfile.NamedTemporaryFile("w", suffix=".rs", delete=False) as tmp:
            tmp.write(text)
        subprocess.run(["rustfmt", "--edition", "2024", tmp.name], check=True)
        with open(tmp.name) as f:
            fresh = f.read()
        os.unlink(tmp.name)
        with open(args.out) as f:
            committed = f.read()
        if committed != fresh:
            sys.exit(f"{args.out} is stale: rerun tools/gen_shapes.py and rustfmt")
        return
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
