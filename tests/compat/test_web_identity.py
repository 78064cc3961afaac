"""AssumeRoleWithWebIdentity against `meridian dev` with a real OIDC issuer.

The test starts a tiny issuer on 127.0.0.1 (http.server in a thread): an RSA
and a P-256 key, `/.well-known/openid-configuration` and `/jwks.json`, every
request counted. Tokens are signed with PyJWT (pinned in requirements.txt,
with `cryptography`). The issuer is registered with
`aws iam create-open-id-connect-provider` (dev nodes allow loopback HTTP
issuers: `[federation] allow_loopback_issuers`, set by `meridian dev`), and
roles trust it through `Federated` with `{issuer}:sub`/`:aud`/`:amr`
conditions. A second issuer that is *not* registered proves that nothing is
ever fetched for an unregistered `iss`."""

import http.server
import json
import threading
import time
import uuid

import jwt
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

CLIENT = "compat-client"
WAIT = 15


class Issuer:
    """A local OIDC issuer: keys, discovery, JWKS, request counter."""

    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa.public_key()))
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec.public_key()))
        rsa_jwk.update(kid="rsa-1", use="sig")
        ec_jwk.update(kid="ec-1", use="sig")
        self.jwks = {"keys": [rsa_jwk, ec_jwk]}
        self.requests = []
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                issuer.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks.json"}
                elif self.path == "/jwks.json":
                    body = issuer.jwks
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("cache-control", "max-age=300")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def resource(self):
        return self.url[len("http://"):]

    def token(self, alg="RS256", kid="rsa-1", **claims):
        now = int(time.time())
        body = {
            "iss": self.url,
            "sub": "user-42",
            "aud": CLIENT,
            "iat": now - 5,
            "exp": now + 600,
            "amr": ["pwd", "mfa"],
        }
        body.update(claims)
        key = self.rsa if alg.startswith("RS") else self.ec
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def issuer(aws_cli, admin):
    issuer = Issuer()
    created = aws_cli(
        "iam",
        "create-open-id-connect-provider",
        "--url",
        issuer.url,
        "--client-id-list",
        CLIENT,
        "other-client",
    )
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{admin['account_id']}:oidc-provider/{issuer.resource}"
    issuer.arn = arn
    yield issuer
    aws_cli("iam", "delete-open-id-connect-provider", "--open-id-connect-provider-arn", arn)
    issuer.stop()


@pytest.fixture(scope="module")
def stranger():
    """An issuer nobody registered."""
    stranger = Issuer()
    yield stranger
    stranger.stop()


def web_role(iam, issuer, conditions, actions=("sts:AssumeRoleWithWebIdentity",)):
    name = f"web-{uuid.uuid4().hex[:10]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": issuer.arn},
                "Action": list(actions),
                "Condition": conditions,
            }
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return role["Role"]["Arn"]


def assume(sts_client, node, role_arn, token, **extra):
    client = sts_client(node)
    return client.assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="web-compat", WebIdentityToken=token, **extra
    )


def eventually(action, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return action()
        except (ClientError, AssertionError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def error(call):
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"].get("Message", ""),
    )


def test_rs256_and_es256_in_every_region(issuer, iam_client, sts_client, nodes, admin):
    iam = iam_client(nodes[0])
    role_arn = web_role(
        iam, issuer, {"StringEquals": {f"{issuer.resource}:aud": CLIENT}}
    )
    for node in nodes:
        for token in (issuer.token(), issuer.token(alg="ES256", kid="ec-1")):
            answer = eventually(lambda: assume(sts_client, node, role_arn, token))
            assert answer["SubjectFromWebIdentityToken"] == "user-42"
            assert answer["Audience"] == CLIENT
            assert answer["Provider"] == issuer.arn
            session = answer["AssumedRoleUser"]["Arn"]
            assert session.endswith("/web-compat")
            credentials = answer["Credentials"]
            who = sts_client(
                node,
                credentials["AccessKeyId"],
                credentials["SecretAccessKey"],
                credentials["SessionToken"],
            ).get_caller_identity()
            assert who["Arn"] == session
            assert who["Account"] == admin["account_id"]
    # Keys are cached: far fewer fetches than calls (discovery + JWKS once
    # per node, and a node's cache serves every later call).
    assert issuer.requests.count("/jwks.json") <= len(nodes)


def test_trust_conditions_on_claims(issuer, iam_client, sts_client, nodes):
    iam = iam_client(nodes[0])
    role_arn = web_role(
        iam,
        issuer,
        {
            "StringEquals": {f"{issuer.resource}:sub": "user-42"},
            "ForAnyValue:StringEquals": {f"{issuer.resource}:amr": "mfa"},
        },
    )
    node = nodes[0]
    eventually(lambda: assume(sts_client, node, role_arn, issuer.token()))
    status, code, message = error(
        lambda: assume(sts_client, node, role_arn, issuer.token(sub="user-7"))
    )
    assert (status, code) == (403, "AccessDenied"), message
    assert "Not authorized to perform sts:AssumeRoleWithWebIdentity" in message
    status, code, _ = error(
        lambda: assume(sts_client, node, role_arn, issuer.token(amr=["pwd"]))
    )
    assert (status, code) == (403, "AccessDenied")


def test_session_tags_and_source_identity_from_claims(issuer, iam_client, sts_client, nodes):
    iam = iam_client(nodes[0])
    role_arn = web_role(
        iam,
        issuer,
        {"StringEquals": {"aws:RequestTag/team": "blue"}},
        actions=(
            "sts:AssumeRoleWithWebIdentity",
            "sts:TagSession",
            "sts:SetSourceIdentity",
        ),
    )
    claims = {
        "https://aws.amazon.com/tags": {
            "principal_tags": {"team": ["blue"], "project": ["unicorn"]},
            "transitive_tag_keys": ["project"],
        },
        "https://aws.amazon.com/source_identity": "alice",
    }
    node = nodes[0]
    answer = eventually(lambda: assume(sts_client, node, role_arn, issuer.token(**claims)))
    assert answer["SourceIdentity"] == "alice"
    assert "PackedPolicySize" in answer
    claims["https://aws.amazon.com/tags"]["principal_tags"]["team"] = ["red"]
    status, code, _ = error(
        lambda: assume(sts_client, node, role_arn, issuer.token(**claims))
    )
    assert (status, code) == (403, "AccessDenied")


def test_main_negatives(issuer, stranger, iam_client, sts_client, nodes):
    iam = iam_client(nodes[0])
    role_arn = web_role(iam, issuer, {})
    node = nodes[0]
    eventually(lambda: assume(sts_client, node, role_arn, issuer.token()))
    now = int(time.time())
    cases = [
        ("expired", issuer.token(exp=now - 3600, iat=now - 7200), 400, "ExpiredTokenException"),
        ("wrong audience", issuer.token(aud="someone-else"), 400, "InvalidIdentityToken"),
        ("string exp", issuer.token(exp="never"), 400, "InvalidIdentityToken"),
        ("unknown kid", issuer.token(kid="nope"), 400, "InvalidIdentityToken"),
        (
            "iss with a trailing slash",
            issuer.token(iss=issuer.url + "/"),
            400,
            "InvalidIdentityToken",
        ),
        (
            "alg none",
            jwt.encode({"iss": issuer.url, "sub": "x", "aud": CLIENT, "iat": now, "exp": now + 60},
                       None, algorithm="none"),
            400,
            "InvalidIdentityToken",
        ),
        (
            "HS256 with the public JWK as secret",
            jwt.encode(
                {"iss": issuer.url, "sub": "x", "aud": CLIENT, "iat": now, "exp": now + 60},
                json.dumps(issuer.jwks["keys"][0]).encode(),
                algorithm="HS256",
                headers={"kid": "rsa-1"},
            ),
            400,
            "InvalidIdentityToken",
        ),
        (
            "unregistered issuer",
            stranger.token(),
            400,
            "InvalidIdentityToken",
        ),
    ]
    for name, token, status, code in cases:
        got = error(lambda: assume(sts_client, node, role_arn, token))
        assert got[:2] == (status, code), (name, got)
    assert stranger.requests == [], "an unregistered issuer was contacted"
    expired_message = error(
        lambda: assume(sts_client, node, role_arn, issuer.token(exp=now - 3600, iat=now - 7200))
    )[2]
    assert expired_message.startswith("Token expired: current date/time")


def test_get_web_identity_token_verifies_with_the_published_jwks(
    iam_client, sts_client, nodes, admin, meridian_admin
):
    """Meridian as an issuer: enable outbound federation, get RS256 and
    ES384 tokens in every region, and verify them with PyJWT against the
    JWKS that the account's discovery document points to. Then rotate the
    RS256 key with `meridian admin keys rotate --purpose jwt-signing`: every
    node publishes the new key, tokens from every region carry it once it
    is active, and a token signed before the rotation still verifies."""
    import urllib.request

    iam = iam_client(nodes[0])
    try:
        issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    except ClientError as raised:
        assert raised.response["Error"]["Code"] == "FeatureEnabled"
        issuer = iam.get_outbound_web_identity_federation_info()["IssuerIdentifier"]
    try:
        info = iam.get_outbound_web_identity_federation_info()
        assert info["IssuerIdentifier"] == issuer and info["JwtVendingEnabled"] is True
        status, code, _ = error(lambda: iam.enable_outbound_web_identity_federation())
        assert (status, code) == (409, "FeatureEnabled")
        with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=10) as r:
            discovery = json.load(r)
        assert discovery["issuer"] == issuer
        jwks_client = jwt.PyJWKClient(discovery["jwks_uri"])
        for node in nodes:
            for alg in ("RS256", "ES384"):
                answer = eventually(
                    lambda: sts_client(node).get_web_identity_token(
                        Audience=["https://api.example.com"],
                        SigningAlgorithm=alg,
                        DurationSeconds=120,
                    )
                )
                token = answer["WebIdentityToken"]
                key = jwks_client.get_signing_key_from_jwt(token)
                claims = jwt.decode(
                    token,
                    key.key,
                    algorithms=[alg],
                    audience="https://api.example.com",
                    issuer=issuer,
                )
                assert claims["sub"] == f"arn:aws:iam::{admin['account_id']}:user/admin"
                namespace = claims["https://sts.amazonaws.com/"]
                assert namespace["aws_account"] == admin["account_id"]
                assert namespace["source_region"] == node["region"]
                assert claims["exp"] - claims["iat"] == 120
        # Another node serves the same keys.
        with urllib.request.urlopen(f"{nodes[-1]['http']}/.well-known/jwks.json", timeout=10) as r:
            assert {k["kid"] for k in json.load(r)["keys"]} >= {"rs256-1", "es384-1"}

        before = sts_client(nodes[0]).get_web_identity_token(
            Audience=["https://api.example.com"], SigningAlgorithm="RS256", DurationSeconds=900
        )["WebIdentityToken"]
        rotated = meridian_admin("keys", "rotate", "--purpose", "jwt-signing", "--output", "json")
        assert rotated.returncode == 0, rotated.stderr
        staged = json.loads(rotated.stdout)["staged"]
        assert (staged["purpose"], staged["algorithm"]) == ("jwt-signing", "RS256"), staged
        new_kid = staged["key_id"]
        assert new_kid != jwt.get_unverified_header(before)["kid"]

        def new_kid_signs(node):
            token = sts_client(node).get_web_identity_token(
                Audience=["https://api.example.com"], SigningAlgorithm="RS256"
            )["WebIdentityToken"]
            assert jwt.get_unverified_header(token)["kid"] == new_kid
            return token

        for node in nodes:
            token = eventually(lambda: new_kid_signs(node))
            with urllib.request.urlopen(f"{node['http']}/.well-known/jwks.json", timeout=10) as r:
                published = {k["kid"] for k in json.load(r)["keys"]}
            assert published >= {new_kid, jwt.get_unverified_header(before)["kid"]}, published
            fresh = jwt.PyJWKClient(discovery["jwks_uri"], cache_jwk_set=False)
            for signed in (token, before):
                jwt.decode(
                    signed,
                    fresh.get_signing_key_from_jwt(signed).key,
                    algorithms=["RS256"],
                    audience="https://api.example.com",
                    issuer=issuer,
                )
        listed = meridian_admin("keys", "list", "--output", "json")
        assert listed.returncode == 0, listed.stderr
        states = {k["key_id"]: k["state"] for k in json.loads(listed.stdout)["keys"]}
        assert states[new_kid] == "active" and states["es384-1"] == "active", states
        assert states[jwt.get_unverified_header(before)["kid"]] == "verify-only", states
    finally:
        iam.disable_outbound_web_identity_federation()
    status, code, _ = error(
        lambda: sts_client(nodes[0]).get_web_identity_token(
            Audience=["a"], SigningAlgorithm="RS256"
        )
    )
    assert (status, code) == (403, "OutboundWebIdentityFederationDisabledException")
