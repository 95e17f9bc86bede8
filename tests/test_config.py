"""The shipped config files load to what their comments promise, and loading does what the
documentation says: example.yaml holds exactly the defaults (plus seed markets) and mentions
every option, local-cluster.yaml loads once its credential files exist, environment variables
override the NATS keys one by one, relative paths resolve against the file's directory, and
``describe`` prints YAML that loads back to the same configuration with secrets hidden.
Files are written to a temporary directory; the environment is always passed explicitly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
import msgspec.inspect as mi
import pytest

import hypermarket.config
from hypermarket.config import (
    VARIABLES,
    Config,
    ConfigError,
    LogLevel,
    default_config,
    describe,
    load_config,
)
from hypermarket.models import MarketStatus, MatchingMode

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
EXAMPLE = CONFIG_DIR / "example.yaml"
LOCAL_CLUSTER = CONFIG_DIR / "local-cluster.yaml"
CLUSTER_FILES = ("ca.pem", "engine-cert.pem", "engine-key.pem", "engine.creds")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def keys(info: mi.Type, where: str = "") -> list[str]:
    """Every key path the schema accepts, seed market fields as ``markets[].name``."""
    match info:
        case mi.StructType():
            return [
                path
                for field in info.fields
                for path in [f"{where}{field.name}", *keys(field.type, f"{where}{field.name}.")]
            ]
        case mi.UnionType():
            return [path for member in info.types for path in keys(member, where)]
        case mi.VarTupleType():
            return keys(info.item_type, where.removesuffix(".") + "[].")
    return []


def test_example_loads_to_the_defaults_plus_its_seed_markets() -> None:
    config = load_config(EXAMPLE, {})
    defaults = default_config(CONFIG_DIR / "data", {})
    assert msgspec.structs.replace(config, markets=()) == defaults
    assert [(m.market_id, m.symbol) for m in config.markets] == [(1, "BTC-PERP"), (2, "ETH-PERP")]
    assert config.markets[1].maker_fee_bps == -1


def test_the_defaults_are_the_documented_ones(tmp_path: Path) -> None:
    config = default_config(tmp_path, {})
    assert config.data_dir == tmp_path
    assert (config.shard_count, config.shards, config.markets) == (1, (0,), ())
    assert config.nats.embedded
    assert config.nats.max_reconnect_attempts == -1
    assert config.embedded_nats.port == 0
    assert config.embedded_nats.store_dir == tmp_path / "nats"
    assert config.embedded_nats.sync_interval == "always"
    assert config.streams.input_stream == "CLOB_INPUTS"
    assert config.streams.input_subject_prefix == "clob.inputs"
    assert config.streams.output_stream == "CLOB_OUTPUTS"
    assert config.streams.output_subject_prefix == "clob.outputs"
    assert config.streams.markets_bucket == "MARKETS"
    assert (config.streams.duplicate_window_s, config.streams.replicas) == (120, 1)
    assert (config.wal.dir, config.wal.fsync) == (tmp_path / "wal", "batch")
    assert config.snapshots.dir == tmp_path / "snapshots"
    assert (config.snapshots.interval_inputs, config.snapshots.keep) == (100_000, 3)
    assert (config.engine.batch_max, config.engine.book_delta_depth) == (512, 20)
    assert not config.engine.check_invariants
    assert config.engine.auction_timer
    assert config.metrics.endpoint == ("127.0.0.1", 9464)
    assert (config.log.format, config.log.level) == ("json", LogLevel.INFO)


def test_example_mentions_every_option() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = [
        path for path in keys(mi.type_info(Config)) if f"{path.rpartition('.')[2]}:" not in text
    ]
    assert missing == []


def test_every_section_is_frozen_and_strict() -> None:
    exported = (getattr(hypermarket.config, name) for name in hypermarket.config.__all__)
    sections = [
        cls for cls in exported if isinstance(cls, type) and issubclass(cls, msgspec.Struct)
    ]
    assert len(sections) == 10
    for cls in sections:
        assert cls.__struct_config__.frozen
        assert cls.__struct_config__.forbid_unknown_fields


def test_local_cluster_names_each_missing_credential_file() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(LOCAL_CLUSTER, {})
    certs = CONFIG_DIR / "certs"
    assert caught.value.lines == (
        f"{LOCAL_CLUSTER}: nats.tls.ca_file: file does not exist: {certs}/ca.pem",
        f"{LOCAL_CLUSTER}: nats.tls.cert_file: file does not exist: {certs}/engine-cert.pem",
        f"{LOCAL_CLUSTER}: nats.tls.key_file: file does not exist: {certs}/engine-key.pem",
        f"{LOCAL_CLUSTER}: nats.creds_file: file does not exist: {certs}/engine.creds",
    )


def test_local_cluster_loads_once_its_files_exist(tmp_path: Path) -> None:
    copy = tmp_path / "config" / "local-cluster.yaml"
    copy.parent.mkdir()
    shutil.copy(LOCAL_CLUSTER, copy)
    for name in CLUSTER_FILES:
        write(tmp_path / "config" / "certs" / name, "-----BEGIN-----\n")
    config = load_config(copy, {})
    certs = tmp_path / "config" / "certs"
    assert config.nats.urls == tuple(f"nats://127.0.0.1:{port}" for port in (4222, 4223, 4224))
    assert config.nats.creds_file == certs / "engine.creds"
    assert config.nats.tls is not None
    assert config.nats.tls.cert_file == certs / "engine-cert.pem"
    assert (config.shard_count, config.shards, config.streams.replicas) == (4, (0, 1), 3)
    assert config.data_dir == tmp_path / "config" / ".." / "data" / "local-cluster" / "engine-1"
    assert config.embedded_nats.sync_interval == "always"
    assert config.markets[3].status is MarketStatus.POST_ONLY


def test_relative_paths_resolve_against_the_file_not_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "data_dir: state\n"
        "wal: {dir: ../fast-disk/wal}\n"
        "snapshots: {dir: /srv/snapshots}\n"
        "nats:\n  urls: [nats://a:4222]\n  tls: {ca_file: certs/ca.pem}\n"
    )
    write(tmp_path / "etc" / "certs" / "ca.pem", "-----BEGIN-----\n")
    write(tmp_path / "etc" / "engine.yaml", text)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    config = load_config(Path("../etc/engine.yaml"), {})
    etc = tmp_path / "elsewhere" / ".." / "etc"
    assert config.data_dir == etc / "state"
    assert config.wal.dir == etc / ".." / "fast-disk" / "wal"
    assert config.snapshots.dir == Path("/srv/snapshots")
    assert config.embedded_nats.store_dir == etc / "state" / "nats"
    assert config.nats.tls is not None
    assert config.nats.tls.ca_file == etc / "certs" / "ca.pem"
    assert all(p.is_absolute() for p in (config.data_dir, config.wal.dir, config.snapshots.dir))


def test_default_config_resolves_data_dir_against_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = default_config(Path("var"), {})
    assert (config.data_dir, config.wal.dir) == (tmp_path / "var", tmp_path / "var" / "wal")


def test_environment_overrides_nats_keys_one_by_one(tmp_path: Path) -> None:
    path = write(tmp_path / "x.yaml", "nats:\n  urls: [nats://file:4222]\n  user: engine\n")
    environ = {
        "HYPERMARKET_NATS_URLS": " nats://a:4222, tls://b:4222 ",
        "HYPERMARKET_NATS_PASSWORD": "from-env",
        "HYPERMARKET_NATS_TOKEN": "",  # empty counts as unset
    }
    nats = load_config(path, environ).nats
    assert nats.urls == ("nats://a:4222", "tls://b:4222")
    assert (nats.user, nats.password, nats.token) == ("engine", "from-env", None)


def test_environment_credential_files_resolve_like_the_files_keys(tmp_path: Path) -> None:
    write(tmp_path / "secrets" / "engine.creds", "-----BEGIN NATS USER JWT-----\n")
    write(tmp_path / "engine.nk", "SU...\n")
    path = write(tmp_path / "x.yaml", "shard_count: 2\n")
    urls = {"HYPERMARKET_NATS_URLS": "nats://a:4222"}
    creds = load_config(path, {**urls, "HYPERMARKET_NATS_CREDS_FILE": "secrets/engine.creds"})
    assert creds.nats.creds_file == tmp_path / "secrets" / "engine.creds"
    seed = load_config(
        path, {**urls, "HYPERMARKET_NATS_NKEYS_SEED_FILE": str(tmp_path / "engine.nk")}
    )
    assert seed.nats.nkeys_seed_file == tmp_path / "engine.nk"


def test_environment_applies_to_the_defaults_too(tmp_path: Path) -> None:
    environ = {"HYPERMARKET_NATS_URLS": "nats://a:4222", "HYPERMARKET_NATS_TOKEN": "t"}
    nats = default_config(tmp_path, environ).nats
    assert (nats.urls, nats.token, nats.embedded) == (("nats://a:4222",), "t", False)
    with pytest.raises(ConfigError) as caught:
        default_config(tmp_path, {"HYPERMARKET_NATS_USER": "u"})
    assert caught.value.lines == (
        "HYPERMARKET_NATS_USER: is set without nats.password; both are needed",
        "HYPERMARKET_NATS_USER: is set, but nats.urls is empty: the engine then starts its "
        "embedded server, which takes no credentials or TLS",
    )


def test_the_variables_are_the_documented_ones() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert all(variable in text for variable in VARIABLES)


def test_describe_prints_yaml_that_loads_back_to_the_same_config(tmp_path: Path) -> None:
    config = load_config(EXAMPLE, {})
    text = describe(config)
    assert "matching_mode: CONTINUOUS" in text
    assert f"dir: {CONFIG_DIR}/data/wal" in text
    assert load_config(write(tmp_path / "effective.yaml", text), {}) == config


def test_secrets_never_appear_in_describe_or_repr(tmp_path: Path) -> None:
    path = write(tmp_path / "x.yaml", "nats:\n  urls: [nats://a:4222]\n  user: engine\n")
    config = load_config(path, {"HYPERMARKET_NATS_PASSWORD": "hunter2"})
    assert config.nats.password == "hunter2"
    for shown in (describe(config), repr(config), str(config.nats)):
        assert "hunter2" not in shown
        assert "<redacted>" in shown


def test_empty_sections_mean_their_defaults(tmp_path: Path) -> None:
    path = write(tmp_path / "x.yaml", "engine:\nnats:\n  tls:\nmarkets: []\n")
    config = load_config(path, {})
    assert config == default_config(tmp_path / "data", {})
    assert config.nats.tls is None


def test_enums_are_read_by_name(tmp_path: Path) -> None:
    text = (
        "markets:\n  - {market_id: 7, symbol: X, matching_mode: BATCH, auction_interval_ms: 100}\n"
    )
    (market,) = load_config(write(tmp_path / "x.yaml", text), {}).markets
    assert market.matching_mode is MatchingMode.BATCH


def test_yaml_merge_keys_share_settings_between_markets(tmp_path: Path) -> None:
    text = (
        "markets:\n"
        "  - &perp {market_id: 1, symbol: A, taker_fee_bps: 5, price_band_bps: 500}\n"
        "  - {<<: *perp, market_id: 2, symbol: B}\n"
    )
    _, second = load_config(write(tmp_path / "x.yaml", text), {}).markets
    assert (second.market_id, second.symbol) == (2, "B")
    assert (second.taker_fee_bps, second.price_band_bps) == (5, 500)
