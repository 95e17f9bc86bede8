"""Every kind of configuration mistake produces the exact one-line message an operator reads:
file, key path, reason.  Each case writes a small YAML file into a temporary directory, loads
it with an empty environment, and compares the full text of the ``ConfigError``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hypermarket.config import ConfigError, load_config
from hypermarket.persistence.wal_format import SEGMENT_HEADER_BYTES

CHECKED_URL = "nats:\n  urls: [nats://a:4222]\n"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Work in tmp_path, so that messages name the file as ``x.yaml``."""
    monkeypatch.chdir(tmp_path)


def error(text: str | bytes, environ: dict[str, str] | None = None) -> str:
    """The message of loading ``text`` as x.yaml; fails the test if it loads."""
    path = Path("x.yaml")
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {} if environ is None else environ)
    return str(caught.value)


UNKNOWN_KEYS = [
    ("nats:\n  url: nats://a:4222\n", "x.yaml: unknown key 'nats.url' (did you mean 'nats.urls'?)"),
    ("fsync: never\n", "x.yaml: unknown key 'fsync' (did you mean 'wal.fsync'?)"),
    ("shard_cuont: 2\n", "x.yaml: unknown key 'shard_cuont' (did you mean 'shard_count'?)"),
    (
        "markets:\n  - {market_id: 1, symbol: A, tick_size: 5}\n",
        "x.yaml: unknown key 'markets[0].tick_size'",
    ),
    ("7: seven\n", "x.yaml: unknown key '7'"),
]

WRONG_TYPES = [
    ("shard_count: four\n", "x.yaml: shard_count: expected an integer, got a string ('four')"),
    ("engine: {batch_max: true}\n", "x.yaml: engine.batch_max: expected an integer, got true"),
    (
        "engine: {batch_max: 1.5}\n",
        "x.yaml: engine.batch_max: expected an integer, got a number (1.5)",
    ),
    (
        "engine: {check_invariants: 1}\n",
        "x.yaml: engine.check_invariants: expected true or false, got an integer (1)",
    ),
    (
        "nats:\n  urls: nats://a:4222\n",
        "x.yaml: nats.urls: expected a list, got a string ('nats://a:4222')",
    ),
    ("nats: [1]\n", "x.yaml: nats: expected a mapping, got a list"),
    ("markets: [~]\n", "x.yaml: markets[0]: expected a mapping, got null"),
    (
        "nats: {connect_timeout_s: fast}\n",
        "x.yaml: nats.connect_timeout_s: expected a number, got a string ('fast')",
    ),
    (
        "markets:\n  - {market_id: 1, symbol: NO}\n",
        "x.yaml: markets[0].symbol: expected a string, got false "
        "(put it in quotes to make it a string)",
    ),
    (
        "data_dir: 2024-01-01\n",
        "x.yaml: data_dir: expected a path, got a date value "
        "(put it in quotes to make it a string)",
    ),
]

BAD_VALUES = [
    ("shard_count: 0\n", "x.yaml: shard_count: must be at least 1, got 0"),
    ("streams: {replicas: 7}\n", "x.yaml: streams.replicas: must be at most 5, got 7"),
    (
        "embedded_nats: {port: 70000}\n",
        "x.yaml: embedded_nats.port: must be at most 65535, got 70000",
    ),
    (
        "nats: {connect_timeout_s: 0}\n",
        "x.yaml: nats.connect_timeout_s: must be greater than 0, got 0",
    ),
    (
        "nats: {reconnect_wait_s: .inf}\n",
        "x.yaml: nats.reconnect_wait_s: must be a finite number, got inf",
    ),
    (
        "wal: {segment_bytes: 16}\n",
        f"x.yaml: wal.segment_bytes: must be greater than {SEGMENT_HEADER_BYTES}, got 16",
    ),
    (
        "engine: {batch_max: 9223372036854775808}\n",
        "x.yaml: engine.batch_max: 9223372036854775808 does not fit in 64 bits",
    ),
    (
        "wal: {fsync: always}\n",
        "x.yaml: wal.fsync: must be one of batch, interval, never; got a string ('always')",
    ),
    (
        "log: {level: info}\n",
        "x.yaml: log.level: must be one of DEBUG, INFO, WARNING, ERROR; got a string ('info') "
        "(did you mean 'INFO'?)",
    ),
    (
        "markets:\n  - {market_id: 1, symbol: A, status: OPEN}\n",
        "x.yaml: markets[0].status: must be one of ACTIVE, POST_ONLY, CANCEL_ONLY, HALTED; "
        "got a string ('OPEN')",
    ),
    (
        "markets:\n  - {market_id: 1, symbol: A, matching_mode: 2}\n",
        "x.yaml: markets[0].matching_mode: must be one of CONTINUOUS, BATCH; got an integer (2)",
    ),
    ("data_dir: ''\n", "x.yaml: data_dir: must not be empty"),
    ("nats: {name: ''}\n", "x.yaml: nats.name: must not be empty"),
    (
        "data_dir: ~/data\n",
        "x.yaml: data_dir: '~' is not expanded here; write the full path ('~/data')",
    ),
    ('data_dir: "a\\0b"\n', "x.yaml: data_dir: contains a NUL character"),
]

MISSING_KEYS = [
    ("markets:\n  - {market_id: 1}\n", "x.yaml: markets[0]: missing required key 'symbol'"),
    ("markets:\n  - {symbol: A}\n", "x.yaml: markets[0]: missing required key 'market_id'"),
]

SHARDS_AND_MARKETS = [
    ("shard_count: 4\nshards: [0, 7]\n", "x.yaml: shards[1]: 7 is not below shard_count 4"),
    (
        "shard_count: 4\nshards: [1, 2, 1]\n",
        "x.yaml: shards[2]: 1 is listed twice (also shards[0])",
    ),
    ("shards: [-1]\n", "x.yaml: shards[0]: must be at least 0, got -1"),
    ("shards: []\n", "x.yaml: shards: lists no shard; leave the key out to own every shard"),
    (
        "markets:\n  - {market_id: 1, symbol: A}\n"
        "  - {market_id: 3, symbol: B, maintenance_margin_bps: 1000}\n",
        "x.yaml: markets[1] (market_id 3): "
        "maintenance_margin_bps must be positive and below initial_margin_bps",
    ),
    (
        "markets:\n  - {market_id: 0, symbol: A}\n",
        "x.yaml: markets[0] (market_id 0): market_id must be at least 1 (0 means 'every market')",
    ),
    (
        "markets:\n  - {market_id: 3, symbol: A}\n  - {market_id: 3, symbol: B}\n",
        "x.yaml: markets[1] (market_id 3): market_id 3 is already defined by markets[0]",
    ),
    (
        "markets:\n  - {market_id: 4294967296, symbol: A}\n",
        "x.yaml: markets[0] (market_id 4294967296): "
        "does not fit the wire format (Value out of range: 4294967296)",
    ),
]

NATS = [
    (
        CHECKED_URL + "  token: t\n  user: u\n  password: p\n",
        "x.yaml: nats: conflicting credentials nats.user+nats.password and nats.token; "
        "use one of user+password, token, nkeys_seed_file, creds_file",
    ),
    (
        CHECKED_URL + "  user: u\n",
        "x.yaml: nats.user: is set without nats.password; both are needed",
    ),
    (
        CHECKED_URL + "  password: p\n",
        "x.yaml: nats.password: is set without nats.user; both are needed",
    ),
    (
        "nats: {token: t}\n",
        "x.yaml: nats.token: is set, but nats.urls is empty: "
        "the engine then starts its embedded server, which takes no credentials or TLS",
    ),
    (
        "nats:\n  urls: ['localhost:4222']\n",
        "x.yaml: nats.urls[0]: 'localhost:4222' is not a NATS server URL such as "
        "nats://host:4222 (nats, tls, ws, wss)",
    ),
    (
        "nats:\n  urls: [nats://a:4222, 'nats://a:99999']\n",
        "x.yaml: nats.urls[1]: 'nats://a:99999' is not a URL (Port out of range 0-65535)",
    ),
    (
        "nats:\n  urls: ['nats://me:pw@a:4222']\n",
        "x.yaml: nats.urls[0]: 'nats://me:pw@a:4222' carries credentials; set them as nats.user "
        "and nats.password (or token) instead, where they are checked and kept out of logs",
    ),
    (
        CHECKED_URL + "  tls: {cert_file: x.yaml}\n",  # the file itself: it exists
        "x.yaml: nats.tls.cert_file: is set without nats.tls.key_file; "
        "mutual TLS needs the certificate and its key",
    ),
    (
        "streams: {replicas: 3}\n",
        "x.yaml: streams.replicas: must be 1 while nats.urls is empty: "
        "the embedded server is a single node",
    ),
    (
        "embedded_nats: {sync_interval: sometimes}\n",
        "x.yaml: embedded_nats.sync_interval: must be 'always' or a duration such as '2m' or "
        "'10s', got 'sometimes'",
    ),
    (
        "embedded_nats: {sync_interval: 120}\n",
        "x.yaml: embedded_nats.sync_interval: expected a string, got an integer (120) "
        "(put it in quotes to make it a string)",
    ),
]

STREAMS_AND_METRICS = [
    (
        "streams: {input_stream: CLOB.IN}\n",
        "x.yaml: streams.input_stream: 'CLOB.IN' is not a valid stream name "
        "(no spaces, '.', '*', '>', '/' or '\\')",
    ),
    (
        "streams: {output_stream: CLOB_INPUTS}\n",
        "x.yaml: streams.output_stream: is the same stream as streams.input_stream",
    ),
    (
        "streams: {markets_bucket: MY MARKETS}\n",
        "x.yaml: streams.markets_bucket: 'MY MARKETS' is not a valid bucket name "
        "(letters, digits, '-' and '_')",
    ),
    (
        "streams: {input_subject_prefix: 'clob.*'}\n",
        "x.yaml: streams.input_subject_prefix: 'clob.*' is not a subject prefix "
        "(tokens joined by '.', no spaces or wildcards)",
    ),
    (
        "streams: {output_subject_prefix: clob}\n",
        "x.yaml: streams.output_subject_prefix: overlaps streams.input_subject_prefix; "
        "two streams cannot share subjects",
    ),
    (
        "metrics: {address: localhost}\n",
        "x.yaml: metrics.address: 'localhost' is not host:port with a port from 0 to 65535",
    ),
    (
        "metrics: {address: ':9464'}\n",
        "x.yaml: metrics.address: ':9464' names no host (0.0.0.0:9464 listens on every interface)",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"),
    UNKNOWN_KEYS
    + WRONG_TYPES
    + BAD_VALUES
    + MISSING_KEYS
    + SHARDS_AND_MARKETS
    + NATS
    + STREAMS_AND_METRICS,
)
def test_each_mistake_has_its_exact_message(text: str, message: str) -> None:
    assert error(text) == message


def test_files_named_in_the_config_must_be_readable(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "engine.nk").write_text("SU...\n", encoding="utf-8")
    text = CHECKED_URL + "  creds_file: engine.creds\n  tls: {ca_file: certs, key_file: /x/k.pem, "
    text += "cert_file: engine.nk/c.pem}\n"
    assert error(text).splitlines() == [
        f"x.yaml: nats.tls.ca_file: is a directory, not a file: {tmp_path}/certs",
        f"x.yaml: nats.tls.cert_file: cannot read file: {tmp_path}/engine.nk/c.pem "
        "(Not a directory)",
        "x.yaml: nats.tls.key_file: file does not exist: /x/k.pem",
        f"x.yaml: nats.creds_file: file does not exist: {tmp_path}/engine.creds",
    ]
    assert error(CHECKED_URL + "  nkeys_seed_file: /dev/null\n") == (
        "x.yaml: nats.nkeys_seed_file: is not a regular file: /dev/null"
    )


def test_all_problems_are_listed_in_schema_order() -> None:
    text = "log: {level: LOUD}\nshard_count: 0\nnats:\n  url: x\nmarkets:\n  - {symbol: A}\n"
    assert error(text).splitlines() == [
        "x.yaml: shard_count: must be at least 1, got 0",
        "x.yaml: unknown key 'nats.url' (did you mean 'nats.urls'?)",
        "x.yaml: markets[0]: missing required key 'market_id'",
        "x.yaml: log.level: must be one of DEBUG, INFO, WARNING, ERROR; got a string ('LOUD')",
    ]


def test_a_failed_section_does_not_hide_the_rules_of_the_others() -> None:
    text = "wal: {fsync: sometimes}\nmarkets:\n  - {market_id: 1, symbol: A, taker_fee_bps: -5}\n"
    assert error(text).splitlines() == [
        "x.yaml: markets[0] (market_id 1): taker_fee_bps must not be below minus maker_fee_bps "
        "(trades would cost the exchange)",
        "x.yaml: wal.fsync: must be one of batch, interval, never; got a string ('sometimes')",
    ]


FILE_PROBLEMS = [
    (b"", "x.yaml: the file is empty (no settings; run without --config for the defaults)"),
    (
        b"# all\n# commented out\n",
        "x.yaml: the file is empty (no settings; run without --config for the defaults)",
    ),
    (b"- 1\n- 2\n", "x.yaml: the top level must be a mapping of keys to values, not a list"),
    (
        b"just words\n",
        "x.yaml: the top level must be a mapping of keys to values, not a string ('just words')",
    ),
    (b"data_dir: \xff\n", "x.yaml: not UTF-8 text (byte 0xff at offset 10)"),
    (
        b"shards: [1, 2\n",
        "x.yaml:2:1: invalid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at 1:9)",
    ),
    (b"nats:\n  urls: a: b\n", "x.yaml:2:10: invalid YAML: mapping values are not allowed here"),
    (
        b"nats: {}\nwal: {}\nnats: {}\n",
        "x.yaml:3:1: invalid YAML: duplicate key 'nats' (first given on line 1)",
    ),
    (
        b"data_dir: \x01\n",
        "x.yaml:1:11: invalid YAML: character #x0001: special characters are not allowed",
    ),
    (
        b"data_dir: 2024-02-30\n",
        "x.yaml:1:11: invalid YAML: '2024-02-30' is not a valid timestamp "
        "(day is out of range for month); quote it to make it a string",
    ),
    (
        b"shard_count: !!int four\n",
        "x.yaml:1:14: invalid YAML: 'four' is not a valid int "
        "(invalid literal for int() with base 10: 'four'); quote it to make it a string",
    ),
    (
        b"x: !!python/object:os.system ls\n",
        "x.yaml:1:4: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object:os.system'",
    ),
    (b"shards: " + b"[" * 5000 + b"\n", "x.yaml: invalid YAML: nested too deeply"),
]


@pytest.mark.parametrize(("data", "message"), FILE_PROBLEMS)
def test_a_file_that_is_no_config_mapping_fails_as_a_whole(data: bytes, message: str) -> None:
    assert error(data) == message


def test_a_missing_or_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^missing\.yaml: file does not exist$"):
        load_config(Path("missing.yaml"), {})
    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(ConfigError, match=r"^folder\.yaml: cannot read the file: Is a directory$"):
        load_config(Path("folder.yaml"), {})


def test_environment_mistakes_name_the_variable(tmp_path: Path) -> None:
    text = "nats:\n  user: engine\n  token: abc\n"
    environ = {
        "HYPERMARKET_NATS_URLS": "nats://a:4222,,http://b:80",
        "HYPERMARKET_NATS_PASSWORD": "pw",
        "HYPERMARKET_NATS_CREDS_FILE": "engine.creds",
    }
    assert error(text, environ).splitlines() == [
        "HYPERMARKET_NATS_URLS: has an empty entry ('nats://a:4222,,http://b:80')",
        "x.yaml: nats: conflicting credentials nats.user+HYPERMARKET_NATS_PASSWORD and "
        "nats.token and HYPERMARKET_NATS_CREDS_FILE; "
        "use one of user+password, token, nkeys_seed_file, creds_file",
        f"HYPERMARKET_NATS_CREDS_FILE: file does not exist: {tmp_path}/engine.creds",
        "HYPERMARKET_NATS_URLS: 'http://b:80' is not a NATS server URL such as nats://host:4222 "
        "(nats, tls, ws, wss)",
    ]
