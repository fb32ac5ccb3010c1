"""Crafted hostile requests, as data; tests/test_hostile_input.py sends them.

Placeholders: `{workflow}` in a path is a fresh workflow of the caller (at version 1), and
`{token}` in an Authorization value is the caller's valid bearer token.
Every answer must be a 4xx problem+json, or a 2xx where the input is legitimately acceptable
(then `stored` names what the created workflow must hold, byte for byte).
"""

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt

from tests.conftest import TEST_SECRET

WORKFLOWS = "/api/v1/workflows"
ONE_WORKFLOW = WORKFLOWS + "/{workflow}"
JSON = "application/json"
BODY_LIMIT = 1024 * 1024  # the default MAX_BODY_BYTES
OTHER_USER = uuid.UUID("00000000-0000-4000-8000-000000000001")
CHOSEN_ID = uuid.UUID("00000000-0000-4000-8000-000000000002")


@dataclass(frozen=True)
class Hostile:
    """One crafted request and the statuses it may get."""

    name: str
    expect: tuple[int, ...]
    method: str = "POST"
    path: str = WORKFLOWS
    body: bytes | None = None
    chunks: tuple[bytes, ...] | None = None  # sent chunked, without Content-Length
    content_type: str | None = JSON
    headers: tuple[tuple[str, str | bytes], ...] = ()
    authorization: str | bytes | None = "Bearer {token}"
    stored: dict[str, Any] = field(default_factory=dict)  # on 2xx: fields of the stored row
    not_stored: dict[str, Any] = field(default_factory=dict)  # on 2xx: values it must not hold


@dataclass(frozen=True)
class RawHostile:
    """Bytes written to a socket of a real uvicorn; None in `expect`: closed without answer."""

    name: str
    data: bytes
    expect: tuple[int | None, ...]
    shut_write: bool = False  # half-close after sending (a client that stops mid-body)


def workflow(name: str, **fields: str) -> bytes:
    """A JSON workflow body whose name (and other members) are raw JSON text."""
    members = [f'"name": {name}', *(f'"{key}": {value}' for key, value in fields.items())]
    return ("{" + ", ".join(members) + "}").encode()


def token(claims: dict[str, Any], key: str = TEST_SECRET, algorithm: str = "HS256") -> str:
    """A JWT with these claims."""
    return jwt.encode(claims, key, algorithm=algorithm)


NOW = int(time.time())
FRESH = {"sub": str(OTHER_USER), "exp": NOW + 3600}
EXPIRED_TOKEN = token({**FRESH, "exp": NOW - 60})
WRONG_KEY_TOKEN = token(FRESH, key="not-the-secret-" + "y" * 40)
NOT_A_UUID_SUBJECT = token({**FRESH, "sub": "admin' OR '1'='1"})
NO_EXPIRY_TOKEN = token({"sub": str(OTHER_USER)})
UNSIGNED_TOKEN = jwt.encode(FRESH, "", algorithm="none")
DEEP = 10_000

SQL_NAMES = [
    "'; DROP TABLE workflows; --",
    "Robert'); DELETE FROM users;--",
    "1' OR '1'='1",
    "%s %(name)s $1 {0} ?",
    "x\\'; SELECT pg_sleep(10); --",
    "admin'/*",
]
UNICODE_NAMES = {
    "rtl_override": "abc\u202edef.exe",
    "emoji_4_byte": "\U0001f600\U0001f4a9 workflow",
    "zero_width": "in\u200bvisible\u200d\ufeff",
    "combining": "Z\u0351\u0337a\u0352\u0334l\u035cg\u0328o",
    "max_length_astral": "\U0001f600" * 255,
    "cjk_and_arabic": "\u5de5\u4f5c\u6d41 \u0633\u064a\u0631",
    "line_separators": "a\u2028b\u2029c\r\nd\te",
}

CORPUS: list[Hostile] = [
    # NUL: raw (not valid JSON) and escaped (valid JSON that PostgreSQL cannot store).
    Hostile("nul_raw_in_string", (400,), body=b'{"name": "a\x00b"}'),
    Hostile("nul_raw_outside_string", (400,), body=b'{"name": "a"}\x00'),
    Hostile("nul_escaped_in_name", (422,), body=workflow('"a\\u0000b"')),
    Hostile("nul_escaped_in_description", (422,), body=workflow('"a"', description='"\\u0000"')),
    Hostile(
        "nul_escaped_in_variable_key", (422,), body=workflow('"a"', variables='{"k\\u0000": 1}')
    ),
    Hostile(
        "nul_escaped_in_nested_value", (422,), body=workflow('"a"', variables='{"k": ["\\u0000"]}')
    ),
    Hostile("nul_in_query", (422,), method="GET", path=WORKFLOWS + "?q=a%00b", body=None),
    Hostile("nul_in_path_id", (422,), method="GET", path=WORKFLOWS + "/%00", body=None),
    # Invalid UTF-8.
    Hostile("invalid_utf8_byte", (400,), body=b'{"name": "\xff\xfe"}'),
    Hostile("overlong_utf8_slash", (400,), body=b'{"name": "\xc0\xaf"}'),
    Hostile("utf8_encoded_surrogate", (400,), body=b'{"name": "\xed\xa0\x80"}'),
    Hostile("truncated_utf8_sequence", (400,), body=b'{"name": "\xe2\x82"}'),
    Hostile("latin1_body", (400,), body='{"name": "caf\u00e9"}'.encode("latin-1")),
    Hostile("utf16_body", (400,), body='{"name": "x"}'.encode("utf-16")),
    Hostile("bom_before_json", (400,), body=b'\xef\xbb\xbf{"name": "x"}'),
    Hostile("invalid_utf8_in_query", (200,), method="GET", path=WORKFLOWS + "?q=%FF%FE"),
    # Sizes.
    Hostile("ten_mb_body", (413,), body=b'{"name": "' + b"a" * (10 * 1024 * 1024) + b'"}'),
    Hostile("chunked_over_limit", (413,), chunks=(b'{"name": "',) + (b"a" * 65536,) * 20),
    Hostile("chunked_under_limit", (201,), chunks=(b'{"name": ', b'"chunked"', b"}")),
    Hostile("just_under_limit_padding", (201,), body=b'{"name": "pad"}' + b" " * (BODY_LIMIT - 20)),
    # Nesting.
    Hostile("arrays_nested_10000", (400,), body=b"[" * DEEP + b"]" * DEEP),
    Hostile(
        "objects_nested_10000_in_variables",
        (400,),
        body=workflow('"a"', variables='{"a": ' * DEEP + "1" + "}" * DEEP),
    ),
    Hostile(
        "objects_nested_300_in_variables",
        (400,),
        body=workflow('"a"', variables='{"a": ' * 300 + "1" + "}" * 300),
    ),
    Hostile(
        "objects_nested_40_in_variables",
        (422,),
        body=workflow('"a"', variables='{"a": ' * 40 + "1" + "}" * 40),
    ),
    # Numbers.
    Hostile("number_1e400", (400,), body=workflow('"a"', variables='{"x": 1e400}')),
    Hostile("number_minus_1e400", (400,), body=workflow('"a"', variables='{"x": -1e400}')),
    Hostile("number_1e_minus_400", (201,), body=workflow('"tiny"', variables='{"x": 1e-400}')),
    Hostile("nan_literal", (400,), body=workflow('"a"', variables='{"x": NaN}')),
    Hostile("infinity_literal", (400,), body=workflow('"a"', variables='{"x": Infinity}')),
    Hostile("minus_infinity_literal", (400,), body=workflow('"a"', variables='{"x": -Infinity}')),
    Hostile(
        "nan_as_string",
        (201,),
        body=workflow('"NaN"', variables='{"x": "NaN"}'),
        stored={"name": "NaN", "variables": {"x": "NaN"}},
    ),
    Hostile(
        "int_2_pow_80_in_int_field", (422,), body=workflow('"a"', config=f'{{"timeout": {2**80}}}')
    ),
    Hostile(
        "int_minus_2_pow_80_in_int_field",
        (422,),
        body=workflow('"a"', config=f'{{"timeout": {-(2**80)}}}'),
    ),
    Hostile("float_in_int_field", (422,), body=workflow('"a"', config='{"timeout": 1.5}')),
    Hostile(
        "int_2_pow_64_in_variables", (201,), body=workflow('"big"', variables=f'{{"x": {2**64}}}')
    ),
    Hostile("limit_2_pow_80", (422,), method="GET", path=f"{WORKFLOWS}?limit={2**80}"),
    Hostile("limit_negative", (422,), method="GET", path=f"{WORKFLOWS}?limit=-1"),
    Hostile("limit_exponent", (422,), method="GET", path=f"{WORKFLOWS}?limit=1e3"),
    # Content types.
    Hostile("text_plain", (415,), body=b'{"name": "x"}', content_type="text/plain"),
    Hostile(
        "form_urlencoded", (415,), body=b"name=x", content_type="application/x-www-form-urlencoded"
    ),
    Hostile(
        "multipart",
        (415,),
        body=b'--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--b--\r\n',
        content_type="multipart/form-data; boundary=b",
    ),
    Hostile("no_content_type", (415,), body=b'{"name": "x"}', content_type=None),
    Hostile("empty_content_type", (415,), body=b'{"name": "x"}', content_type=""),
    Hostile("xml", (415,), body=b"<name>x</name>", content_type="application/xml"),
    Hostile(
        "json_uppercase_with_charset",
        (201,),
        body=workflow('"upper"'),
        content_type="APPLICATION/JSON; charset=UTF-8",
    ),
    Hostile(
        "json_patch_array",
        (422,),
        body=b'[{"op": "add", "path": "/name", "value": "x"}]',
        content_type="application/json-patch+json",
    ),
    # SQL injection: stored verbatim, never executed.
    *(
        Hostile(
            f"sql_in_name_{number}",
            (201,),
            body=workflow(f'"{name.replace(chr(92), chr(92) * 2)}"'),
            stored={"name": name},
        )
        for number, name in enumerate(SQL_NAMES)
    ),
    Hostile(
        "sql_in_variable_key",
        (201,),
        body=workflow(
            '"vk"', variables='{"\'); DROP TABLE users; --": "1; DELETE FROM workflows"}'
        ),
        stored={"variables": {"'); DROP TABLE users; --": "1; DELETE FROM workflows"}},
    ),
    Hostile("sql_in_search", (200,), method="GET", path=WORKFLOWS + "?q=%27%20OR%201%3D1%20--"),
    Hostile("like_wildcards_in_search", (200,), method="GET", path=WORKFLOWS + "?q=%25_%5C"),
    Hostile(
        "sql_in_sort", (422,), method="GET", path=WORKFLOWS + "?sort=name%3B%20DROP%20TABLE%20users"
    ),
    Hostile(
        "sql_in_cursor",
        (400, 422),
        method="GET",
        path=WORKFLOWS + "?cursor=%27%20OR%20%271%27%3D%271",
    ),
    Hostile("sql_in_bool", (422,), method="GET", path=WORKFLOWS + "?is_active=true%20OR%201%3D1"),
    # Mass assignment: the caller cannot choose id, owner or version (unknown members: 422).
    Hostile(
        "server_fields_in_body",
        (422,),
        body=workflow('"mass"', id=f'"{CHOSEN_ID}"', owner_id=f'"{OTHER_USER}"', version="99"),
        stored={"version": 1},
        not_stored={"id": str(CHOSEN_ID), "owner_id": str(OTHER_USER)},
    ),
    # Header injection and hostile preconditions.
    Hostile(
        "crlf_in_if_match",
        (412,),
        method="PATCH",
        path=ONE_WORKFLOW,
        body=workflow('"b"'),
        headers=(("If-Match", '"1"\r\nX-Injected: 1'),),
    ),
    Hostile(
        "crlf_in_request_id",
        (201,),
        body=workflow('"rid"'),
        headers=(("X-Request-ID", "a\r\nSet-Cookie: x=1"),),
    ),
    Hostile(
        "if_match_100_kb",
        (422,),
        method="PATCH",
        path=ONE_WORKFLOW,
        body=workflow('"b"'),
        headers=(("If-Match", '"1",' * 25_000),),
    ),
    Hostile(
        "if_match_weak",
        (412,),
        method="PATCH",
        path=ONE_WORKFLOW,
        body=workflow('"b"'),
        headers=(("If-Match", 'W/"1"'),),
    ),
    Hostile(
        "if_match_huge_version",
        (412,),
        method="PATCH",
        path=ONE_WORKFLOW,
        body=workflow('"b"'),
        headers=(("If-Match", f'"{2**80}"'),),
    ),
    Hostile(
        "if_match_negative",
        (412,),
        method="PATCH",
        path=ONE_WORKFLOW,
        body=workflow('"b"'),
        headers=(("If-Match", '"-1"'),),
    ),
    Hostile(
        "if_match_unquoted",
        (412,),
        method="PATCH",
        path=ONE_WORKFLOW,
        body=workflow('"b"'),
        headers=(("If-Match", "1"),),
    ),
    Hostile(
        "if_match_star",
        (200,),
        method="PATCH",
        path=ONE_WORKFLOW,
        body=workflow('"star"'),
        headers=(("If-Match", "*"),),
    ),
    Hostile(
        "if_match_latin1_bytes",
        (412,),
        method="PATCH",
        path=ONE_WORKFLOW,
        body=workflow('"b"'),
        headers=(("If-Match", b'"1\xff"'),),
    ),
    Hostile(
        "if_none_match_garbage",
        (200,),
        method="GET",
        path=ONE_WORKFLOW,
        headers=(("If-None-Match", '"\x01\x02", W/'),),
    ),
    # Paths.
    Hostile("encoded_traversal", (404,), method="GET", path=WORKFLOWS + "/..%2F..%2Fetc%2Fpasswd"),
    Hostile("encoded_dot_dot", (422,), method="GET", path=WORKFLOWS + "/%2e%2e"),
    Hostile("double_encoded_traversal", (422,), method="GET", path=WORKFLOWS + "/%252e%252e%252f"),
    Hostile("backslash_traversal", (422,), method="GET", path=WORKFLOWS + "/..%5C..%5Cetc"),
    Hostile("id_not_uuid_number", (422,), method="GET", path=WORKFLOWS + "/123"),
    Hostile("id_sql", (422,), method="GET", path=WORKFLOWS + "/1%27%20OR%20%271%27%3D%271"),
    Hostile("id_60_kb", (422,), method="GET", path=WORKFLOWS + "/" + "a" * 60_000),
    Hostile(
        "id_nil_uuid",
        (404,),
        method="GET",
        path=WORKFLOWS + "/00000000-0000-0000-0000-000000000000",
    ),
    Hostile("id_braced_uuid", (404, 422), method="GET", path=WORKFLOWS + f"/%7B{uuid.uuid4()}%7D"),
    Hostile(
        "id_of_another_users_row_shape",
        (404,),
        method="DELETE",
        path=f"{WORKFLOWS}/{uuid.uuid4()}",
        headers=(("If-Match", "*"),),
    ),
    # Duplicated keys: refused, because parsers disagree on which one wins.
    Hostile("duplicate_key", (400,), body=b'{"name": "a", "name": "b"}'),
    Hostile("duplicate_key_nested", (400,), body=workflow('"a"', variables='{"k": 1, "k": 2}')),
    Hostile("duplicate_key_escaped", (400,), body=b'{"name": "a", "\\u006eame": "b"}'),
    Hostile(
        "duplicate_key_in_array_item",
        (400,),
        body=workflow('"a"', variables='{"list": [{"x": 1, "x": 1}]}'),
    ),
    # Unicode edge cases.
    Hostile("lone_high_surrogate", (400,), body=workflow('"\\ud800"')),
    Hostile("lone_low_surrogate", (400,), body=workflow('"\\udc00"')),
    Hostile("reversed_surrogate_pair", (400,), body=workflow('"\\ude00\\ud83d"')),
    Hostile(
        "escaped_surrogate_pair",
        (201,),
        body=workflow('"\\ud83d\\ude00"'),
        stored={"name": "\U0001f600"},
    ),
    *(
        Hostile(
            f"unicode_{label}",
            (201,),
            body=workflow(
                f'"{text}"'.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
            ),
            stored={"name": text},
        )
        for label, text in UNICODE_NAMES.items()
    ),
    Hostile("name_256_astral_chars", (422,), body=workflow('"' + "\U0001f600" * 256 + '"')),
    Hostile("noncharacter_ffff", (201,), body=workflow('"\\uffff"'), stored={"name": "\uffff"}),
    # Query parameters.
    Hostile(
        "thousands_of_query_params",
        (200,),
        method="GET",
        path=WORKFLOWS + "?" + "&".join(f"p{n}=1" for n in range(5000)),
    ),
    Hostile(
        "thousands_of_repeated_q",
        (200,),
        method="GET",
        path=WORKFLOWS + "?" + "&".join("q=x" for _ in range(5000)),
    ),
    Hostile("query_60_kb", (422,), method="GET", path=WORKFLOWS + "?q=" + "a" * 60_000),
    Hostile("query_without_value", (422,), method="GET", path=WORKFLOWS + "?q&limit&&=&"),
    # Authorization.
    Hostile("no_authorization", (401,), method="GET", authorization=None),
    Hostile("basic_scheme", (401,), method="GET", authorization="Basic YWRtaW46YWRtaW4="),
    Hostile("bearer_without_token", (401,), method="GET", authorization="Bearer"),
    Hostile("bearer_lowercase", (200,), method="GET", authorization="bearer {token}"),
    Hostile("bearer_100_kb", (401,), method="GET", authorization="Bearer " + "a" * 100_000),
    Hostile("bearer_not_a_jwt", (401,), method="GET", authorization="Bearer a.b.c"),
    Hostile("bearer_latin1_bytes", (401,), method="GET", authorization=b"Bearer \xff\xfe"),
    Hostile("alg_none_token", (401,), method="GET", authorization=f"Bearer {UNSIGNED_TOKEN}"),
    Hostile("expired_token", (401,), method="GET", authorization=f"Bearer {EXPIRED_TOKEN}"),
    Hostile("wrong_key_token", (401,), method="GET", authorization=f"Bearer {WRONG_KEY_TOKEN}"),
    Hostile(
        "token_subject_sql", (401,), method="GET", authorization=f"Bearer {NOT_A_UUID_SUBJECT}"
    ),
    Hostile(
        "token_without_expiry", (401,), method="GET", authorization=f"Bearer {NO_EXPIRY_TOKEN}"
    ),
    # Body shapes.
    Hostile("json_array_for_object", (422,), body=b'[{"name": "x"}]'),
    Hostile("empty_body", (422,), body=b""),
    Hostile("null_body", (422,), body=b"null"),
    Hostile("string_body", (422,), body=b'"name"'),
    Hostile("number_body", (422,), body=b"123"),
    Hostile("empty_object", (422,), body=b"{}"),
    Hostile("whitespace_body", (400,), body=b"  \n\t "),
    Hostile("truncated_json", (400,), body=b'{"name": "x"'),
    Hostile("trailing_garbage", (400,), body=b'{"name": "x"} trailing'),
    Hostile("two_documents", (400,), body=b'{"name": "x"}{"name": "y"}'),
    Hostile("javascript_comment", (400,), body=b'/* hi */ {"name": "x"}'),
    Hostile("single_quotes", (400,), body=b"{'name': 'x'}"),
    Hostile("trailing_comma", (400,), body=b'{"name": "x",}'),
    Hostile("unquoted_key", (400,), body=b'{name: "x"}'),
    Hostile("name_is_number", (422,), body=workflow("123")),
    Hostile("name_is_object", (422,), body=workflow('{"$ne": null}')),
    Hostile("name_is_null", (422,), body=workflow("null")),
    Hostile("variables_is_array", (422,), body=workflow('"a"', variables="[1, 2]")),
    Hostile("is_active_is_string", (201, 422), body=workflow('"a"', is_active='"yes"')),
    Hostile(
        "patch_with_null_name",
        (422,),
        method="PATCH",
        path=ONE_WORKFLOW,
        body=b'{"name": null}',
        headers=(("If-Match", '"1"'),),
    ),
    # Methods.
    Hostile("trace_method", (405,), method="TRACE", body=None),
    Hostile("unknown_method", (405,), method="FOO", body=None),
    Hostile("delete_collection", (405,), method="DELETE", body=None),
    Hostile("put_workflow", (405,), method="PUT", path=ONE_WORKFLOW, body=workflow('"a"')),
]


def message(request_line: str, *headers: str, body: bytes = b"") -> bytes:
    """An HTTP/1.1 message with CRLF line endings (latin-1, so any byte can be written)."""
    head = "\r\n".join([request_line, "Host: t", *headers]) + "\r\n\r\n"
    return head.encode("latin-1") + body


POST_JSON = (f"POST {WORKFLOWS} HTTP/1.1", "Content-Type: application/json")
CHUNK_64_KB = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"

RAW_CORPUS: list[RawHostile] = [
    RawHostile(
        "cr_in_header_value",
        message("GET /healthz HTTP/1.1", "X-Request-ID: a\rSet-Cookie: x=1"),
        (400,),
    ),
    RawHostile(
        "nul_in_header_value", message("GET /healthz HTTP/1.1", "X-Request-ID: a\x00b"), (400,)
    ),
    RawHostile("raw_path_traversal", message(f"GET {WORKFLOWS}/../../etc/passwd HTTP/1.1"), (404,)),
    RawHostile("raw_invalid_utf8_path", message(f"GET {WORKFLOWS}/\xff\xfe HTTP/1.1"), (400,)),
    RawHostile(
        "invalid_chunk_size",
        message(*POST_JSON, "Transfer-Encoding: chunked", body=b"ZZ\r\nabc\r\n0\r\n\r\n"),
        (400,),
    ),
    RawHostile(
        "chunk_size_overflow",
        message(*POST_JSON, "Transfer-Encoding: chunked", body=b"F" * 20 + b"\r\nabc\r\n0\r\n\r\n"),
        (400,),
    ),
    RawHostile(
        "raw_chunked_over_limit",
        message(*POST_JSON, "Transfer-Encoding: chunked", body=CHUNK_64_KB * 20 + b"0\r\n\r\n"),
        (413,),
    ),
    RawHostile(
        "content_length_and_chunked",
        message(*POST_JSON, "Content-Length: 4", "Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
        (400,),
    ),
    RawHostile(
        "conflicting_content_lengths",
        message(*POST_JSON, "Content-Length: 2", "Content-Length: 10", body=b"{}"),
        (400,),
    ),
    RawHostile(
        "negative_content_length", message(*POST_JSON, "Content-Length: -1", body=b"{}"), (400,)
    ),
    RawHostile(
        "content_length_beyond_body",
        message(*POST_JSON, "Content-Length: 100", body=b"{}"),
        (None,),
        shut_write=True,
    ),
    RawHostile(
        "unknown_transfer_encoding",
        message(*POST_JSON, "Transfer-Encoding: gzip", body=b"{}"),
        (400,),
    ),
    RawHostile("space_in_request_target", message("GET /healthz x HTTP/1.1"), (400,)),
    RawHostile(
        "tls_client_hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, (400,)
    ),
    RawHostile(
        "header_100_kb", message("GET /healthz HTTP/1.1", "X-Big: " + "a" * 100_000), (200,)
    ),
    RawHostile(
        "two_thousand_headers",
        message("GET /healthz HTTP/1.1", *(f"X-H{n}: v" for n in range(2000))),
        (200,),
    ),
    RawHostile("http_1_0_without_host", b"GET /healthz HTTP/1.0\r\n\r\n", (200,)),
    RawHostile("absolute_form_target", message("GET http://evil.example/healthz HTTP/1.1"), (200,)),
    RawHostile(
        "bare_lf_line_endings",
        b"GET /healthz HTTP/1.1\nHost: t\nX-Request-ID: a\nSet-Cookie: x=1\n\n",
        (400,),
    ),
    RawHostile(
        "expect_continue_too_large",
        message(*POST_JSON, "Content-Length: 10485760", "Expect: 100-continue"),
        (413,),
    ),
    RawHostile("http_2_preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", (400,)),
]
