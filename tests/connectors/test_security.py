"""Security profiles 1 (basic auth on the upgrade) and 2 (the same over TLS), over real websockets.

The TLS tests use the self-signed certificate of the `certificate` fixture (conftest).
"""

from __future__ import annotations

import base64
import logging
import ssl
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage, InvalidStatus
from websockets.typing import Subprotocol

from connectors.ocpp.events import CapabilitiesLearned, MemorySink, MeterSampleReceived, StationBooted
from connectors.ocpp.security import BasicAuth, basic_credentials, hash_password, verify_password
from connectors.ocpp.server import OcppServer, ServerSettings, StationRegistry
from tests.connectors.live import VERSIONS, endpoint, run, simulated, sink_of

PASSWORD = "correct-horse-battery-staple"
HASHES = {"CP1": hash_password(PASSWORD)}


def basic(user: str, password: str | bytes) -> dict[str, str]:
    raw = password if isinstance(password, bytes) else password.encode()
    return {"Authorization": "Basic " + base64.b64encode(user.encode() + b":" + raw).decode()}


def test_a_password_is_stored_salted_and_checked() -> None:
    stored = hash_password(PASSWORD)
    assert PASSWORD not in stored
    assert stored.startswith("scrypt$")
    assert stored != hash_password(PASSWORD)  # a fresh salt each time
    assert verify_password(PASSWORD, stored)
    assert verify_password(PASSWORD.encode(), stored)
    assert not verify_password(PASSWORD + "!", stored)
    assert not verify_password(PASSWORD, "plain-text")
    assert not verify_password(PASSWORD, "scrypt$3$8$1$AAAA$AAAA")  # n not a power of two


def test_raw_byte_passwords_of_16_stations_are_compared_as_bytes() -> None:
    key = bytes(range(200, 220))  # a 1.6 AuthorizationKey sent raw, not as text
    assert verify_password(key, hash_password(key))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic " + base64.b64encode(b"CP1:pw:with:colons").decode(), ("CP1", b"pw:with:colons")),
        ("basic " + base64.b64encode(b"CP1:").decode(), ("CP1", b"")),
        ("Bearer abc", None),
        ("Basic !!!", None),
        ("Basic " + base64.b64encode(b"no colon").decode(), None),
        (None, None),
    ],
)
def test_basic_credentials_are_read_from_the_header(header: str | None, expected: tuple[str, bytes] | None) -> None:
    assert basic_credentials(header) == expected


def test_which_stations_must_authenticate() -> None:
    auth = BasicAuth(HASHES)
    assert auth.refusal("CP2", None) is None  # no password configured, none required
    assert auth.refusal("CP1", None) == "no basic auth credentials"
    assert auth.refusal("CP1", basic("CP1", "wrong")["Authorization"]) == "wrong password"
    assert auth.refusal("CP1", basic("CP2", PASSWORD)["Authorization"]) == "user name 'CP2' is not the station id"
    assert auth.refusal("CP1", basic("CP1", PASSWORD)["Authorization"]) is None
    strict = BasicAuth(HASHES, required=True)
    assert strict.refusal("CP2", basic("CP2", PASSWORD)["Authorization"]) == "no password configured for the station"


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "no basic auth credentials"),
        (basic("CP1", "wrong-password"), "wrong password"),
        (basic("CP9", PASSWORD), "user name 'CP9' is not the station id"),
    ],
)
def test_a_station_without_its_password_gets_401_before_the_upgrade(
    headers: dict[str, str], why: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with endpoint(password_hashes=HASHES) as server:
            with pytest.raises(InvalidStatus) as refused:
                await connect(server.url("CP1"), subprotocols=[Subprotocol("ocpp1.6")], additional_headers=headers)
            response = refused.value.response
            assert response.status_code == 401
            assert response.headers["WWW-Authenticate"].startswith("Basic")
            assert server.registry.get("CP1") is None

    with caplog.at_level(logging.WARNING, logger="connectors.ocpp.server"):
        run(scenario())
    refusals = [record.getMessage() for record in caplog.records if "refused station 'CP1'" in record.getMessage()]
    assert len(refusals) == 1
    assert refusals[0].endswith(why)
    assert PASSWORD not in caplog.text


def test_with_passwords_required_an_unknown_station_cannot_register_itself() -> None:
    async def scenario() -> None:
        async with endpoint("CP1", auto_register=True, password_hashes=HASHES, require_password=True) as server:
            with pytest.raises(InvalidStatus) as refused:
                await connect(
                    server.url("NEW"), subprotocols=[Subprotocol("ocpp1.6")], additional_headers=basic("NEW", "x")
                )
            assert refused.value.response.status_code == 401
            assert "NEW" not in server.registry.known

    run(scenario())


@pytest.mark.parametrize("version", VERSIONS)
def test_a_station_with_its_password_connects_and_boots(version: str) -> None:
    async def scenario() -> None:
        async with endpoint(password_hashes=HASHES) as server, simulated(server, version, password=PASSWORD):
            booted = await sink_of(server).wait_for(StationBooted)
            assert booted.station_id == "CP1"

    run(scenario())


# -- TLS -----------------------------------------------------------------------------------------


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


@pytest.mark.parametrize("version", VERSIONS)
def test_security_profile_2_tls_and_basic_auth(version: str, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate

    async def scenario() -> None:
        async with endpoint(password_hashes=HASHES, tls_certificate=str(cert), tls_key=str(key)) as server:
            assert server.url("CP1").startswith("wss://127.0.0.1:")
            sink = sink_of(server)
            async with simulated(server, version, password=PASSWORD, ssl_context=trusting(cert)):
                await sink.wait_for(StationBooted)
                await sink.wait_for(CapabilitiesLearned)
                await sink.wait_for(MeterSampleReceived)
            with pytest.raises(InvalidStatus) as refused:  # TLS does not replace the password
                await connect(server.url("CP1"), subprotocols=[Subprotocol("ocpp1.6")], ssl=trusting(cert))
            assert refused.value.response.status_code == 401

    run(scenario())


def test_a_tls_endpoint_refuses_plain_websockets_and_untrusted_clients(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate

    async def scenario() -> None:
        async with endpoint(tls_certificate=str(cert), tls_key=str(key)) as server:
            plain = server.url("CP1").replace("wss://", "ws://")
            with pytest.raises(InvalidMessage):  # the server answers a plain handshake with no HTTP at all
                await connect(plain, subprotocols=[Subprotocol("ocpp1.6")], open_timeout=2)
            with pytest.raises(ssl.SSLCertVerificationError):
                await connect(
                    server.url("CP1"), subprotocols=[Subprotocol("ocpp1.6")], ssl=ssl.create_default_context()
                )

    run(scenario())


def test_a_certificate_without_its_key_is_a_configuration_error(certificate: tuple[Path, Path]) -> None:
    with pytest.raises(ValueError, match="tls_key"):
        OcppServer(MemorySink(), StationRegistry(), ServerSettings(tls_certificate=str(certificate[0])))
