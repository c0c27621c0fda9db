"""Bad input never yields a 500 (or FastAPI's 422 shape): malformed JSON and forms, wrong types,
odd content types, broken credentials, oversized bodies. One real server, many requests."""

import base64
from collections.abc import Iterator

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving import serve_app

from demo_as.app import create_app
from demo_as.settings import Settings

PATHS = ["/register", "/token", "/revoke", "/introspect", "/login", "/consent"]
JSON_PATHS = {"/register"}
HTML_PATHS = {"/login", "/consent"}


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx2.Client]:
    data_dir = tmp_path_factory.mktemp("bad-input")
    build = lambda base: create_app(  # noqa: E731
        Settings(issuer=base, data_dir=data_dir, introspection_secret="s")
    )
    with serve_app(build) as base_url, httpx2.Client(base_url=base_url, timeout=20) as client:
        yield client


def assert_protocol_error(path: str, response: httpx2.Response) -> None:
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text[:300])
    assert response.status_code != 422
    if path in HTML_PATHS:
        assert response.headers["content-type"].startswith("text/html")
        return
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert "detail" not in body  # never FastAPI's default error shape


BODIES = [
    b"",
    b"{",
    b"[]",
    b"null",
    b'"string"',
    b"\xff\xfe\x00",
    b"%",
    b"=&=&",
    b"[" * 20000,
    b'{"redirect_uris": {"a": 1}, "client_name": ["x"]}',
    b"grant_type=authorization_code&grant_type=refresh_token",
    b"grant_type=refresh_token&refresh_token=%00",
    "grant_type=authorization_code&client_id=\u00e9".encode(),
    b"request_id=%ff&csrf_token=x&decision=approve&username=a&password=b&scope=" + b"x" * 5000,
]
CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "multipart/form-data; boundary=zz",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_malformed_bodies(http: httpx2.Client, path: str, content_type: str) -> None:
    for body in BODIES:
        response = http.post(path, content=body, headers={"content-type": content_type})
        assert_protocol_error(path, response)


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!",
        "Basic " + base64.b64encode(b"\xff:\xfe").decode(),
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic Og==",
        "Bearer x",
        "Digest a=b",
    ],
)
@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_broken_credentials(http: httpx2.Client, path: str, authorization: str) -> None:
    response = http.post(
        path,
        data={"grant_type": "authorization_code", "token": "t", "code": "c"},
        headers={"authorization": authorization},
    )
    assert_protocol_error(path, response)
    assert response.status_code in (400, 401)


@pytest.mark.parametrize("path", PATHS)
def test_oversized_body_is_413_in_the_oauth_format(http: httpx2.Client, path: str) -> None:
    response = http.post(
        path,
        content=b"a=" + b"x" * 200_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "query",
    [
        "client_id=%ff",
        "client_id=a&client_id=b",
        "scope=%00",
        "redirect_uri=http://[::1",
        "client_id=" + "x" * 5000,
        "response_type[]=x",
    ],
)
def test_malformed_authorize_queries_are_400_pages(http: httpx2.Client, query: str) -> None:
    response = http.get("/authorize?" + query)
    assert response.status_code == 400
    assert "location" not in response.headers


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("path", ["/token", "/register", "/revoke", "/introspect"])
def test_wrong_methods_are_405_in_oauth_json(http: httpx2.Client, method: str, path: str) -> None:
    response = http.request(method, path)
    assert response.status_code == 405
    assert response.json()["error"] == "invalid_request"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
metadata_keys = st.sampled_from(
    [
        "redirect_uris",
        "client_name",
        "grant_types",
        "response_types",
        "scope",
        "token_endpoint_auth_method",
        "software_id",
    ]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.dictionaries(metadata_keys, json_values, max_size=6))
def test_registration_fuzz_never_500(http: httpx2.Client, body: dict) -> None:
    response = http.post("/register", json=body)
    assert response.status_code in (201, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"] in ("invalid_client_metadata", "invalid_redirect_uri")


form_fields = st.dictionaries(
    st.sampled_from(
        [
            "grant_type",
            "code",
            "code_verifier",
            "refresh_token",
            "scope",
            "resource",
            "client_id",
            "client_secret",
            "redirect_uri",
            "token",
        ]
    ),
    st.text(max_size=60),
    max_size=7,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(["/token", "/revoke", "/introspect"]), data=form_fields)
def test_form_endpoint_fuzz_never_500(http: httpx2.Client, path: str, data: dict) -> None:
    headers = {"authorization": "Bearer s"} if path == "/introspect" else {}
    response = http.post(path, data=data, headers=headers)
    assert response.status_code < 500, response.text
    assert response.status_code != 422
