"""AssumeRoleWithSAML through boto3 against a local SAML IdP (saml_idp.py:
metadata and responses made here, signed with the xmlsec1 CLI): the happy
path with every output AWS returns, saml:* condition keys and session tags
from attributes in trust policies, and the main refusals with AWS's codes."""

import json
import time

import pytest
from botocore.exceptions import ClientError

import saml_idp
from conftest import ALLOW_ALL, error_of, expect_error, trust_policy, unique


@pytest.fixture
def node(nodes):
    return nodes[0]


@pytest.fixture
def sts(sts_client, node):
    return sts_client(node)


@pytest.fixture
def provider(admin_iam, cleanup):
    """A SAML provider registered with the test IdP's metadata:
    (name, arn, entity id)."""
    name = unique("idp")
    entity_id = f"https://idp.meridian.test/{name}"
    arn = admin_iam.create_saml_provider(
        Name=name, SAMLMetadataDocument=saml_idp.metadata(entity_id)
    )["SAMLProviderArn"]
    cleanup.add(admin_iam.delete_saml_provider, SAMLProviderArn=arn)
    return name, arn, entity_id


def saml_trust(provider_arn, condition=None, actions=("sts:AssumeRoleWithSAML",)):
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": list(actions),
    }
    if condition:
        statement["Condition"] = condition
    return trust_policy(statement)


def assume(sts, role_arn, provider_arn, xml, **extra):
    return sts.assume_role_with_saml(
        RoleArn=role_arn,
        PrincipalArn=provider_arn,
        SAMLAssertion=saml_idp.encode(xml),
        **extra,
    )


def test_happy_path_returns_every_output(
    sts, sts_client, node, make_role, provider, account_id
):
    name, provider_arn, entity_id = provider
    role_arn = make_role(
        trust=saml_trust(
            provider_arn,
            {"StringEquals": {"saml:aud": saml_idp.AWS_ENDPOINT, "saml:iss": entity_id}},
        ),
        policy_document=ALLOW_ALL,
    )
    xml = saml_idp.sign(saml_idp.response_xml(entity_id, role_arn, provider_arn))
    answer = assume(sts, role_arn, provider_arn, xml, DurationSeconds=900)
    role_name = role_arn.rsplit("/", 1)[1]
    assert answer["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{account_id}:assumed-role/{role_name}/alice"
    )
    assert answer["Subject"] == "alice@corp.example"
    assert answer["SubjectType"] == "persistent"
    assert answer["Issuer"] == entity_id
    assert answer["Audience"] == saml_idp.AWS_ENDPOINT
    assert answer["NameQualifier"] == saml_idp.name_qualifier(entity_id, account_id, name)
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    lifetime = (credentials["Expiration"] - credentials["Expiration"].now(credentials["Expiration"].tzinfo)).total_seconds()
    assert 800 < lifetime <= 900, lifetime
    session = sts_client(
        node,
        access_key_id=credentials["AccessKeyId"],
        secret_access_key=credentials["SecretAccessKey"],
        session_token=credentials["SessionToken"],
    )
    assert session.get_caller_identity()["Arn"] == answer["AssumedRoleUser"]["Arn"]


def test_condition_keys_and_tags_from_attributes(sts, make_role, provider):
    _, provider_arn, entity_id = provider
    role_arn = make_role(
        trust=saml_trust(
            provider_arn,
            {
                "ForAnyValue:StringEquals": {"saml:edupersonaffiliation": "staff"},
                "StringEquals": {"aws:RequestTag/Project": "blue", "saml:sub_type": "persistent"},
            },
            actions=("sts:AssumeRoleWithSAML", "sts:TagSession"),
        )
    )

    def response(affiliation, project):
        return saml_idp.sign(
            saml_idp.response_xml(
                entity_id,
                role_arn,
                provider_arn,
                attributes={
                    saml_idp.AFFILIATION_OID: ["member", affiliation],
                    saml_idp.TAG_ATTRIBUTE + "Project": [project],
                },
            )
        )

    answer = assume(sts, role_arn, provider_arn, response("staff", "blue"))
    assert answer["PackedPolicySize"] >= 0
    for affiliation, project in [("student", "blue"), ("staff", "red")]:
        message = expect_error(
            lambda: assume(sts, role_arn, provider_arn, response(affiliation, project)),
            403,
            "AccessDenied",
        )
        assert message == "Not authorized to perform sts:AssumeRoleWithSAML"


def test_main_refusals(sts, make_role, provider):
    _, provider_arn, entity_id = provider
    role_arn = make_role(trust=saml_trust(provider_arn))

    def made(**kwargs):
        return saml_idp.response_xml(entity_id, role_arn, provider_arn, **kwargs)

    signed = saml_idp.sign(made())
    cases = [
        ("tampered", signed.replace("alice@corp.example", "admin@corp.example"), 400, "InvalidIdentityToken"),
        ("unsigned", made(signed=False), 400, "InvalidIdentityToken"),
        ("wrong audience", saml_idp.sign(made(audience="https://evil.example/saml")), 400, "InvalidIdentityToken"),
        ("wrong recipient", saml_idp.sign(made(recipient="https://evil.example/acs")), 400, "InvalidIdentityToken"),
        ("expired", saml_idp.sign(made(valid_for=-120)), 400, "ExpiredTokenException"),
        ("attacker key", saml_idp.sign(made(), key="attacker-rsa"), 400, "InvalidIdentityToken"),
        (
            "DOCTYPE",
            '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            + signed.split("?>", 1)[1],
            400,
            "InvalidIdentityToken",
        ),
        (
            "comment in NameID",
            signed.replace("alice@corp.example", "alice@corp.example<!---->.evil"),
            400,
            "InvalidIdentityToken",
        ),
    ]
    for case, xml, status, code in cases:
        try:
            assume(sts, role_arn, provider_arn, xml)
        except ClientError as raised:
            assert error_of(raised)[:2] == (status, code), (case, error_of(raised))
        else:
            raise AssertionError(f"{case}: accepted")
    # A role the assertion does not name, and a provider that does not exist.
    other_role = make_role(trust=saml_trust(provider_arn))
    expect_error(lambda: assume(sts, other_role, provider_arn, saml_idp.sign(made())), 400, "InvalidIdentityToken")
    missing = provider_arn + "-missing"
    expect_error(lambda: assume(sts, role_arn, missing, saml_idp.sign(made())), 400, "InvalidIdentityToken")


def test_an_assertion_is_redeemed_once(sts, make_role, provider):
    _, provider_arn, entity_id = provider
    role_arn = make_role(trust=saml_trust(provider_arn))
    xml = saml_idp.sign(saml_idp.response_xml(entity_id, role_arn, provider_arn))
    assume(sts, role_arn, provider_arn, xml)
    message = expect_error(lambda: assume(sts, role_arn, provider_arn, xml), 400, "InvalidIdentityToken")
    assert "already" in message


def test_metadata_without_a_signing_key_is_refused(admin_iam):
    metadata = saml_idp.metadata("https://idp.meridian.test/keyless")
    start = metadata.index("<md:KeyDescriptor")
    end = metadata.index("</md:KeyDescriptor>") + len("</md:KeyDescriptor>")
    keyless = metadata[:start] + metadata[end:] + " " * 0
    keyless = keyless.replace(
        "</md:IDPSSODescriptor>",
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>" * 12
        + "</md:IDPSSODescriptor>",
    )
    expect_error(
        lambda: admin_iam.create_saml_provider(Name=unique("keyless"), SAMLMetadataDocument=keyless),
        400,
        "InvalidInput",
    )
