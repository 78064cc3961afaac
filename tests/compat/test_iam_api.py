"""The IAM-compatible API through the aws CLI and boto3 (STS-API.md §4):
roles (`aws iam create-role --assume-role-policy-document file://trust.json`),
users, access keys, inline and managed policies with versions, attachments,
AWS managed policies, tags, OIDC and SAML providers and GetAccountSummary,
with AWS's error codes, statuses and texts. Policy documents come back
URL-encoded and botocore decodes them into dicts, as it does against AWS."""

import json
import re
from pathlib import Path

import pytest

from conftest import (
    ALLOW_ALL,
    REPLICATION_WAIT,
    allow,
    delete_role,
    delete_user,
    eventually,
    expect_error,
    policy,
    trust_policy,
    unique,
)

REPO = Path(__file__).resolve().parents[2]


def cli_json(aws_cli, *args):
    """Runs `aws iam …` (env.sh's environment) and parses its JSON output."""
    result = aws_cli("iam", *args, "--output", "json")
    assert result.returncode == 0, (args, result.stderr)
    return json.loads(result.stdout) if result.stdout.strip() else {}


def cli_error(aws_cli, *args) -> str:
    """Runs `aws iam …`, which must fail with a service error; returns stderr."""
    result = aws_cli("iam", *args, "--output", "json")
    assert result.returncode != 0, (args, result.stdout)
    return result.stderr


# ---------------------------------------------------------------------------
# Roles through the aws CLI


def test_cli_role_lifecycle(aws_cli, admin_iam, account_id, tmp_path, cleanup):
    name = unique("cli-role")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    (tmp_path / "trust.json").write_text(json.dumps(trust, indent=2))
    created = cli_json(
        aws_cli,
        "create-role",
        "--role-name", name,
        "--path", "/cli/",
        "--description", "made by the aws CLI",
        "--assume-role-policy-document", f"file://{tmp_path / 'trust.json'}",
        "--tags", "Key=team,Value=blue",
    )
    cleanup.add(delete_role, admin_iam, name)
    role = created["Role"]
    assert role["Arn"] == f"arn:aws:iam::{account_id}:role/cli/{name}"
    assert role["RoleId"].startswith("AROA") and len(role["RoleId"]) == 21
    assert role["AssumeRolePolicyDocument"] == trust  # decoded, not a string
    assert role["Tags"] == [{"Key": "team", "Value": "blue"}]

    got = cli_json(aws_cli, "get-role", "--role-name", name)["Role"]
    assert got["AssumeRolePolicyDocument"] == trust
    assert got["MaxSessionDuration"] == 3600
    assert got["Description"] == "made by the aws CLI"
    assert got["RoleLastUsed"] == {}

    # Update the trust policy and the role.
    trust["Statement"][0]["Condition"] = {"StringEquals": {"sts:ExternalId": "x-1"}}
    (tmp_path / "trust2.json").write_text(json.dumps(trust))
    cli_json(
        aws_cli,
        "update-assume-role-policy",
        "--role-name", name,
        "--policy-document", f"file://{tmp_path / 'trust2.json'}",
    )
    cli_json(aws_cli, "update-role", "--role-name", name, "--max-session-duration", "7200")
    got = cli_json(aws_cli, "get-role", "--role-name", name)["Role"]
    assert got["AssumeRolePolicyDocument"] == trust
    assert got["MaxSessionDuration"] == 7200

    # Inline and attached policies.
    document = json.loads(policy(allow("iam:List*")))
    (tmp_path / "inline.json").write_text(json.dumps(document))
    cli_json(
        aws_cli,
        "put-role-policy",
        "--role-name", name,
        "--policy-name", "lister",
        "--policy-document", f"file://{tmp_path / 'inline.json'}",
    )
    fetched = cli_json(aws_cli, "get-role-policy", "--role-name", name, "--policy-name", "lister")
    assert fetched["PolicyDocument"] == document
    assert cli_json(aws_cli, "list-role-policies", "--role-name", name)["PolicyNames"] == ["lister"]
    read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    cli_json(aws_cli, "attach-role-policy", "--role-name", name, "--policy-arn", read_only)
    attached = cli_json(aws_cli, "list-attached-role-policies", "--role-name", name)
    assert attached["AttachedPolicies"] == [{"PolicyName": "ReadOnlyAccess", "PolicyArn": read_only}]

    stderr = cli_error(aws_cli, "delete-role", "--role-name", name)
    assert "(DeleteConflict)" in stderr, stderr
    cli_json(aws_cli, "detach-role-policy", "--role-name", name, "--policy-arn", read_only)
    cli_json(aws_cli, "delete-role-policy", "--role-name", name, "--policy-name", "lister")
    cli_json(aws_cli, "delete-role", "--role-name", name)
    stderr = cli_error(aws_cli, "get-role", "--role-name", name)
    assert "(NoSuchEntity)" in stderr and f"The role with name {name} cannot be found." in stderr


def test_role_errors(admin_iam, make_role, account_id):
    arn = make_role()
    name = arn.rsplit("/", 1)[1]
    trust = trust_policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"}, "Action": "sts:AssumeRole"}
    )
    # Names are unique case-insensitively.
    message = expect_error(
        lambda: admin_iam.create_role(RoleName=name.upper(), AssumeRolePolicyDocument=trust),
        409,
        "EntityAlreadyExists",
    )
    assert message == f"Role with name {name.upper()} already exists."
    message = expect_error(
        lambda: admin_iam.create_role(RoleName=unique("bad"), AssumeRolePolicyDocument="{nope"),
        400,
        "MalformedPolicyDocument",
    )
    assert message == "This policy contains invalid Json"
    bad_principal = trust_policy(
        {"Effect": "Allow", "Principal": {"AWS": "not-an-arn"}, "Action": "sts:AssumeRole"}
    )
    message = expect_error(
        lambda: admin_iam.create_role(RoleName=unique("bad"), AssumeRolePolicyDocument=bad_principal),
        400,
        "MalformedPolicyDocument",
    )
    assert message.startswith("Invalid principal in policy"), message
    expect_error(lambda: admin_iam.get_role(RoleName=unique("ghost")), 404, "NoSuchEntity")
    expect_error(
        lambda: admin_iam.update_role(RoleName=name, MaxSessionDuration=43201),
        400,
        "ValidationError",
    )


# ---------------------------------------------------------------------------
# Users and access keys


def test_users_and_access_keys(admin_iam, iam_client, sts_client, nodes, account_id, cleanup):
    name = unique("user")
    created = admin_iam.create_user(
        UserName=name, Path="/staff/", Tags=[{"Key": "team", "Value": "red"}]
    )["User"]
    cleanup.add(delete_user, admin_iam, name)
    assert created["Arn"] == f"arn:aws:iam::{account_id}:user/staff/{name}"
    assert created["UserId"].startswith("AIDA")
    message = expect_error(lambda: admin_iam.create_user(UserName=name.upper()), 409, "EntityAlreadyExists")
    assert message == f"User with name {name.upper()} already exists."
    missing = unique("ghost")
    message = expect_error(lambda: admin_iam.get_user(UserName=missing), 404, "NoSuchEntity")
    assert message == f"The user with name {missing} cannot be found."
    listed = admin_iam.list_users(PathPrefix="/staff/")["Users"]
    assert name in [user["UserName"] for user in listed]
    assert all("Tags" not in user for user in listed)  # never in List* answers

    first = admin_iam.create_access_key(UserName=name)["AccessKey"]
    second = admin_iam.create_access_key(UserName=name)["AccessKey"]
    for key in (first, second):
        assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
        assert len(key["SecretAccessKey"]) == 40 and key["Status"] == "Active"
    message = expect_error(lambda: admin_iam.create_access_key(UserName=name), 409, "LimitExceeded")
    assert message == "Cannot exceed quota for AccessKeysPerUser: 2"
    listed = admin_iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert sorted(k["AccessKeyId"] for k in listed) == sorted([first["AccessKeyId"], second["AccessKeyId"]])
    assert all("SecretAccessKey" not in k for k in listed)

    # The key signs in every region once replicated; GetUser without a name
    # is the calling user.
    own = {"access_key_id": first["AccessKeyId"], "secret_access_key": first["SecretAccessKey"]}
    admin_iam.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=ALLOW_ALL)
    for node in nodes:
        me = eventually(lambda: iam_client(node, **own).get_user())["User"]
        assert me["UserName"] == name, node["region"]

    # Inactive and deleted keys are refused.
    admin_iam.update_access_key(UserName=name, AccessKeyId=first["AccessKeyId"], Status="Inactive")
    status = admin_iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert {k["AccessKeyId"]: k["Status"] for k in status}[first["AccessKeyId"]] == "Inactive"
    for node in nodes:
        eventually(
            lambda: expect_error(sts_client(node, **own).get_caller_identity, 403, "InvalidClientTokenId")
        )
    admin_iam.update_access_key(UserName=name, AccessKeyId=first["AccessKeyId"], Status="Active")
    eventually(lambda: sts_client(nodes[0], **own).get_caller_identity())
    admin_iam.delete_access_key(UserName=name, AccessKeyId=first["AccessKeyId"])
    expect_error(sts_client(nodes[0], **own).get_caller_identity, 403, "InvalidClientTokenId")

    # Tags.
    admin_iam.tag_user(UserName=name, Tags=[{"Key": "cost", "Value": "7"}])
    tags = admin_iam.list_user_tags(UserName=name)["Tags"]
    assert tags == [{"Key": "cost", "Value": "7"}, {"Key": "team", "Value": "red"}]
    admin_iam.untag_user(UserName=name, TagKeys=["team"])
    assert admin_iam.get_user(UserName=name)["User"]["Tags"] == [{"Key": "cost", "Value": "7"}]

    # A user with keys or policies cannot be deleted.
    message = expect_error(lambda: admin_iam.delete_user(UserName=name), 409, "DeleteConflict")
    assert message.startswith("Cannot delete entity, must "), message


def test_inline_policies(admin_iam, make_user, make_role):
    user, _ = make_user()
    role = make_role().rsplit("/", 1)[1]
    document = json.loads(policy(allow(["iam:GetUser", "iam:ListUsers"])))
    admin_iam.put_user_policy(UserName=user, PolicyName="p1", PolicyDocument=json.dumps(document))
    admin_iam.put_role_policy(RoleName=role, PolicyName="p1", PolicyDocument=json.dumps(document))
    assert admin_iam.get_user_policy(UserName=user, PolicyName="p1")["PolicyDocument"] == document
    assert admin_iam.get_role_policy(RoleName=role, PolicyName="p1")["PolicyDocument"] == document
    assert admin_iam.list_user_policies(UserName=user)["PolicyNames"] == ["p1"]
    message = expect_error(
        lambda: admin_iam.get_role_policy(RoleName=role, PolicyName="nope"), 404, "NoSuchEntity"
    )
    assert message == "The role policy with name nope cannot be found."
    expect_error(
        lambda: admin_iam.put_user_policy(UserName=user, PolicyName="bad", PolicyDocument="[]"),
        400,
        "MalformedPolicyDocument",
    )
    # Inline policies of a user are limited to 2,048 characters in all.
    big = policy(*[allow(f"s3:GetObject{n:04d}", f"arn:aws:s3:::bucket-{n}/*") for n in range(40)])
    message = expect_error(
        lambda: admin_iam.put_user_policy(UserName=user, PolicyName="big", PolicyDocument=big),
        409,
        "LimitExceeded",
    )
    assert message.startswith("Maximum policy size of 2048 bytes exceeded"), message
    admin_iam.delete_user_policy(UserName=user, PolicyName="p1")
    assert admin_iam.list_user_policies(UserName=user)["PolicyNames"] == []


# ---------------------------------------------------------------------------
# Managed policies


def test_managed_policy_versions_and_attachments(admin_iam, make_user, make_role, account_id, cleanup):
    name = unique("managed")
    v1 = json.loads(policy(allow("iam:ListRoles")))
    created = admin_iam.create_policy(
        PolicyName=name,
        Path="/team/",
        PolicyDocument=json.dumps(v1),
        Description="lists roles",
        Tags=[{"Key": "owner", "Value": "compat"}],
    )["Policy"]
    arn = created["Arn"]
    assert arn == f"arn:aws:iam::{account_id}:policy/team/{name}"
    cleanup.add(delete_policy, admin_iam, arn)
    assert created["DefaultVersionId"] == "v1" and created["AttachmentCount"] == 0
    got = admin_iam.get_policy(PolicyArn=arn)["Policy"]
    assert got["Description"] == "lists roles" and got["IsAttachable"] is True
    version = admin_iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == v1 and version["IsDefaultVersion"] is True

    # Versions: at most five; the default cannot be deleted.
    documents = {"v1": v1}
    for n in range(2, 6):
        document = json.loads(policy(allow(f"iam:GetRole"), allow(f"iam:ListUsers{n}")))
        made = admin_iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=(n == 3)
        )["PolicyVersion"]
        assert made["VersionId"] == f"v{n}"
        documents[f"v{n}"] = document
    message = expect_error(
        lambda: admin_iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(v1)),
        409,
        "LimitExceeded",
    )
    assert "versions" in message.lower(), message
    listed = admin_iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in listed] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["VersionId"] for v in listed if v["IsDefaultVersion"]] == ["v3"]
    for version_id, document in documents.items():
        fetched = admin_iam.get_policy_version(PolicyArn=arn, VersionId=version_id)["PolicyVersion"]
        assert fetched["Document"] == document, version_id
    message = expect_error(
        lambda: admin_iam.delete_policy_version(PolicyArn=arn, VersionId="v3"), 409, "DeleteConflict"
    )
    assert message == "Cannot delete the default version of a policy."
    admin_iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    for version_id in ("v2", "v3", "v4", "v5"):
        admin_iam.delete_policy_version(PolicyArn=arn, VersionId=version_id)
    expect_error(
        lambda: admin_iam.get_policy_version(PolicyArn=arn, VersionId="v4"), 404, "NoSuchEntity"
    )

    # Attachments.
    user, _ = make_user()
    role = make_role().rsplit("/", 1)[1]
    admin_iam.attach_user_policy(UserName=user, PolicyArn=arn)
    admin_iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert admin_iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2
    entities = admin_iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == [user]
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == [role]
    assert entities["PolicyGroups"] == []
    message = expect_error(lambda: admin_iam.delete_policy(PolicyArn=arn), 409, "DeleteConflict")
    assert message == "Cannot delete a policy attached to entities."
    local = admin_iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]
    assert arn in [p["Arn"] for p in local]
    admin_iam.detach_user_policy(UserName=user, PolicyArn=arn)
    admin_iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    message = expect_error(
        lambda: admin_iam.detach_role_policy(RoleName=role, PolicyArn=arn), 404, "NoSuchEntity"
    )
    assert message == f"Policy {arn} was not found."

    # Tags.
    admin_iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "cost", "Value": "1"}])
    tags = admin_iam.list_policy_tags(PolicyArn=arn)["Tags"]
    assert tags == [{"Key": "cost", "Value": "1"}, {"Key": "owner", "Value": "compat"}]
    admin_iam.untag_policy(PolicyArn=arn, TagKeys=["cost", "owner"])
    assert admin_iam.list_policy_tags(PolicyArn=arn)["Tags"] == []

    missing = f"arn:aws:iam::{account_id}:policy/{unique('ghost')}"
    message = expect_error(lambda: admin_iam.get_policy(PolicyArn=missing), 404, "NoSuchEntity")
    assert message == f"Policy {missing} was not found."
    message = expect_error(
        lambda: admin_iam.attach_user_policy(UserName=user, PolicyArn=missing), 404, "NoSuchEntity"
    )
    assert message == f"Policy {missing} does not exist or is not attachable."


def delete_policy(iam, arn):
    for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not version["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    iam.delete_policy(PolicyArn=arn)


AWS_MANAGED = [
    "AdministratorAccess",
    "IAMFullAccess",
    "IAMReadOnlyAccess",
    "PowerUserAccess",
    "ReadOnlyAccess",
]


def test_aws_managed_policies(admin_iam, iam_client, nodes, make_user, aws_cli):
    # The bootstrapped administrator has the AWS managed AdministratorAccess.
    attached = admin_iam.list_attached_user_policies(UserName="admin")["AttachedPolicies"]
    assert {
        "PolicyName": "AdministratorAccess",
        "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
    } in attached, attached

    listed = admin_iam.list_policies(Scope="AWS")["Policies"]
    assert [p["PolicyName"] for p in listed] == AWS_MANAGED
    assert all(p["Arn"] == f"arn:aws:iam::aws:policy/{p['PolicyName']}" for p in listed)
    assert all(p["Arn"].startswith("arn:aws:iam::aws:") for p in admin_iam.list_policies()["Policies"][:5])
    local = admin_iam.list_policies(Scope="Local")["Policies"]
    assert not any(p["Arn"].startswith("arn:aws:iam::aws:") for p in local)
    cli = cli_json(aws_cli, "list-policies", "--scope", "AWS")
    assert [p["PolicyName"] for p in cli["Policies"]] == AWS_MANAGED

    read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    got = admin_iam.get_policy(PolicyArn=read_only)["Policy"]
    assert got["PolicyId"] == "ANPAILL3HVNFSB6DCOWYQ" and got["IsAttachable"] is True
    document = admin_iam.get_policy_version(PolicyArn=read_only, VersionId=got["DefaultVersionId"])
    assert isinstance(document["PolicyVersion"]["Document"], dict)

    # Attached to a user, it grants reads and nothing else, in every region.
    name, user = make_user()
    admin_iam.attach_user_policy(UserName=name, PolicyArn=read_only)
    for node in nodes:
        client = iam_client(node, **user)
        eventually(client.list_roles)
        expect_error(lambda: client.create_role(RoleName=unique("no"), AssumeRolePolicyDocument=ALLOW_ALL), 403, "AccessDenied")

    # Never writable.
    for call in (
        lambda: admin_iam.delete_policy(PolicyArn=read_only),
        lambda: admin_iam.create_policy_version(PolicyArn=read_only, PolicyDocument=ALLOW_ALL),
        lambda: admin_iam.tag_policy(PolicyArn=read_only, Tags=[{"Key": "k", "Value": "v"}]),
    ):
        message = expect_error(call, 403, "AccessDenied")
        assert "because no resource-based policy allows" in message, message
    message = expect_error(
        lambda: admin_iam.attach_user_policy(
            UserName=name, PolicyArn="arn:aws:iam::aws:policy/NoSuchAwsPolicy"
        ),
        404,
        "NoSuchEntity",
    )
    assert message == "Policy arn:aws:iam::aws:policy/NoSuchAwsPolicy does not exist or is not attachable."


def test_permissions_boundary(admin_iam, iam_client, nodes, make_user):
    name, user = make_user(ALLOW_ALL)
    admin_iam.put_user_permissions_boundary(
        UserName=name, PermissionsBoundary="arn:aws:iam::aws:policy/IAMReadOnlyAccess"
    )
    assert admin_iam.get_user(UserName=name)["User"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
    }
    client = iam_client(nodes[0], **user)
    client.list_users()
    message = expect_error(lambda: client.create_user(UserName=unique("no")), 403, "AccessDenied")
    assert "because no permissions boundary allows the iam:CreateUser action" in message, message


# ---------------------------------------------------------------------------
# Identity providers


THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def test_oidc_provider_crud(admin_iam, account_id, cleanup):
    host = f"{unique('oidc')}.example.com"
    arn = admin_iam.create_open_id_connect_provider(
        Url=f"https://{host}/tenant",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=[THUMBPRINT],
        Tags=[{"Key": "idp", "Value": "ci"}],
    )["OpenIDConnectProviderArn"]
    cleanup.add(admin_iam.delete_open_id_connect_provider, OpenIDConnectProviderArn=arn)
    assert arn == f"arn:aws:iam::{account_id}:oidc-provider/{host}/tenant"
    message = expect_error(
        lambda: admin_iam.create_open_id_connect_provider(
            Url=f"https://{host}/tenant", ThumbprintList=[THUMBPRINT]
        ),
        409,
        "EntityAlreadyExists",
    )
    assert host in message
    admin_iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app-2")
    admin_iam.remove_client_id_from_open_id_connect_provider(
        OpenIDConnectProviderArn=arn, ClientID="sts.amazonaws.com"
    )
    other = "0123456789abcdef0123456789abcdef01234567"
    admin_iam.update_open_id_connect_provider_thumbprint(
        OpenIDConnectProviderArn=arn, ThumbprintList=[other]
    )
    got = admin_iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert host in got["Url"]
    assert got["ClientIDList"] == ["app-2"]
    assert got["ThumbprintList"] == [other]
    assert got["Tags"] == [{"Key": "idp", "Value": "ci"}]
    listed = admin_iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert {"Arn": arn} in listed
    admin_iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    admin_iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["idp"])
    tags = admin_iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]
    assert tags == [{"Key": "k", "Value": "v"}]
    expect_error(
        lambda: admin_iam.create_open_id_connect_provider(Url="ftp://idp.example.com", ThumbprintList=[THUMBPRINT]),
        400,
        "InvalidInput",
    )
    admin_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    message = expect_error(
        lambda: admin_iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn), 404, "NoSuchEntity"
    )
    assert message == f"OpenIDConnect Provider not found for arn {arn}"


def saml_metadata(entity: str) -> str:
    """IdP metadata with the repository's test IdP signing certificate."""
    pem = (REPO / "crates/meridian-core/tests/fixtures/saml/idp-rsa.crt").read_text()
    certificate = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    text = (
        '<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'entityID="{entity}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        f"<ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        "</md:KeyDescriptor>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="{entity}/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>'
    )
    assert len(text) >= 1000
    return text


def test_saml_provider_crud(admin_iam, account_id, cleanup):
    name = unique("saml")
    document = saml_metadata(f"https://{name}.example.com/saml")
    arn = admin_iam.create_saml_provider(
        Name=name, SAMLMetadataDocument=document, Tags=[{"Key": "idp", "Value": "corp"}]
    )["SAMLProviderArn"]
    cleanup.add(admin_iam.delete_saml_provider, SAMLProviderArn=arn)
    assert arn == f"arn:aws:iam::{account_id}:saml-provider/{name}"
    got = admin_iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == document
    assert {"Arn": arn} in [
        {"Arn": p["Arn"]} for p in admin_iam.list_saml_providers()["SAMLProviderList"]
    ]
    updated = saml_metadata(f"https://{name}.example.com/saml2")
    assert admin_iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=updated)[
        "SAMLProviderArn"
    ] == arn
    assert admin_iam.get_saml_provider(SAMLProviderArn=arn)["SAMLMetadataDocument"] == updated
    assert admin_iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [
        {"Key": "idp", "Value": "corp"}
    ]
    expect_error(
        lambda: admin_iam.create_saml_provider(Name=unique("bad"), SAMLMetadataDocument="x" * 1000),
        400,
        "InvalidInput",
    )
    admin_iam.delete_saml_provider(SAMLProviderArn=arn)
    expect_error(lambda: admin_iam.get_saml_provider(SAMLProviderArn=arn), 404, "NoSuchEntity")


# ---------------------------------------------------------------------------
# The account


def test_get_account_summary(admin_iam, make_user, make_role):
    before = admin_iam.get_account_summary()["SummaryMap"]
    for key in ("Users", "Roles", "Policies", "UsersQuota", "RolesQuota", "AccessKeysPerUserQuota"):
        assert isinstance(before[key], int), key
    assert before["AccessKeysPerUserQuota"] == 2
    assert before["AttachedPoliciesPerRoleQuota"] == 10
    assert before["GlobalEndpointTokenVersion"] in (1, 2)
    make_user()
    make_role()
    after = admin_iam.get_account_summary()["SummaryMap"]
    # Other tests run one at a time, so the counts moved by exactly what this
    # test created.
    assert after["Users"] == before["Users"] + 1
    assert after["Roles"] == before["Roles"] + 1


def test_what_terraform_reads_and_updates_on_a_role(admin_iam, make_role):
    """The calls the Terraform AWS provider makes to read, update and delete
    a role, with the shapes it expects."""
    name = make_role(Description="first").rsplit("/", 1)[1]
    assert admin_iam.list_role_policies(RoleName=name)["PolicyNames"] == []
    assert admin_iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    assert admin_iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"] == []
    admin_iam.tag_role(RoleName=name, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}])
    assert admin_iam.list_role_tags(RoleName=name)["Tags"] == [
        {"Key": "a", "Value": "1"},
        {"Key": "b", "Value": ""},
    ]
    admin_iam.untag_role(RoleName=name, TagKeys=["a"])
    assert admin_iam.get_role(RoleName=name)["Role"]["Tags"] == [{"Key": "b", "Value": ""}]
    described = admin_iam.update_role_description(RoleName=name, Description="second")["Role"]
    assert described["Description"] == "second"
    # Role listings never carry tags, boundaries or last use.
    listed = [r for r in admin_iam.list_roles()["Roles"] if r["RoleName"] == name]
    assert len(listed) == 1
    assert not {"Tags", "PermissionsBoundary", "RoleLastUsed"} & set(listed[0]), listed[0]


def test_user_rename_and_key_last_used(admin_iam, make_user, sts_client, nodes, cleanup):
    name, user = make_user(ALLOW_ALL)
    renamed = unique("renamed")
    admin_iam.update_user(UserName=name, NewUserName=renamed)
    cleanup.add(delete_user, admin_iam, renamed)
    assert admin_iam.get_user(UserName=renamed)["User"]["UserName"] == renamed
    expect_error(lambda: admin_iam.get_user(UserName=name), 404, "NoSuchEntity")
    # The key follows the user.
    identity = sts_client(nodes[0], **user).get_caller_identity()
    assert identity["Arn"].endswith(f":user/{renamed}"), identity
    last_used = admin_iam.get_access_key_last_used(AccessKeyId=user["access_key_id"])
    assert last_used["UserName"] == renamed


def test_virtual_mfa_devices(admin_iam, account_id, cleanup):
    name = unique("phone")
    device = admin_iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    serial = device["SerialNumber"]
    cleanup.add(admin_iam.delete_virtual_mfa_device, SerialNumber=serial)
    assert serial == f"arn:aws:iam::{account_id}:mfa/{name}"
    # botocore decodes the blob: the seed is 32 base32 characters (20 bytes).
    assert re.fullmatch(rb"[A-Z2-7]{32}", device["Base32StringSeed"]), device["Base32StringSeed"]
    unassigned = admin_iam.list_virtual_mfa_devices(AssignmentStatus="Unassigned")["VirtualMFADevices"]
    assert serial in [d["SerialNumber"] for d in unassigned]
    # The seed is returned once, never listed.
    assert all("Base32StringSeed" not in d for d in unassigned)
    message = expect_error(
        lambda: admin_iam.create_virtual_mfa_device(VirtualMFADeviceName=name), 409, "EntityAlreadyExists"
    )
    assert message == "MFADevice entity at the same path and name already exists."
    admin_iam.delete_virtual_mfa_device(SerialNumber=serial)
    expect_error(lambda: admin_iam.delete_virtual_mfa_device(SerialNumber=serial), 404, "NoSuchEntity")


def test_security_token_service_preferences(admin_iam):
    admin_iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v2Token")
    try:
        assert admin_iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 2
    finally:
        admin_iam.set_security_token_service_preferences(GlobalEndpointTokenVersion="v1Token")
    assert admin_iam.get_account_summary()["SummaryMap"]["GlobalEndpointTokenVersion"] == 1
