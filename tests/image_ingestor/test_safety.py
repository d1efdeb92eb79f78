"""Address and URL checks, the resolver under them, content sniffing and settings (no I/O
except the loopback resolver)."""

from __future__ import annotations

import ipaddress
import re
import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from image_testkit import jpeg, png

from avs_image_ingestor.content import AVIF, GIF, JPEG, PNG, WEBP, declared_type_refusal, sniff
from avs_image_ingestor.safety import AddressPolicy, BlockedAddress, SafeResolver, UnsafeUrl
from avs_image_ingestor.settings import ImageIngestorSettings
from avs_shared.errors import ConfigurationError
from avs_shared.settings import load_settings

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "151.101.1.69", "2606:4700::6810:85e5"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().refusal(ipaddress.ip_address(address)) is None


def test_the_allowlist_opens_networks_but_never_metadata() -> None:
    policy = AddressPolicy(["127.0.0.0/8", "169.254.0.0/16", "fd00::/8"])
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("169.254.1.1")) is None
    for metadata in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2"):
        reason = policy.refusal(ipaddress.ip_address(metadata))
        assert reason is not None and "metadata" in reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/a.png", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com/", "only http and https"),
        ("//example.com/a.png", "only http and https"),
        ("http:///a.png", "no host"),
        ("http://127.0.0.1/a.png", "loopback"),
        ("http://[::1]:8080/a.png", "loopback"),
        ("http://169.254.169.254/latest/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://10.0.0.1/a.png", "private"),
    ],
)
def test_urls_are_checked_before_any_connection(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl, match=reason):
        AddressPolicy().checked_url(url)


def test_a_public_name_passes_the_url_check() -> None:
    assert (
        AddressPolicy().checked_url("https://cdn.myanimelist.net/images/a.jpg").host == "cdn.myanimelist.net"
    )


class FixedResolver(AbstractResolver):
    """A resolver with fixed answers (the DNS is not reachable from the tests)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
            for a in self.answers[host]
        ]

    async def close(self) -> None:
        return None


async def test_the_resolver_refuses_names_that_resolve_to_internal_addresses() -> None:
    resolver = SafeResolver(
        AddressPolicy(),
        FixedResolver(
            {
                "cdn.example": ["93.184.216.34"],
                "rebind.example": ["93.184.216.34", "169.254.169.254"],
                "internal.example": ["10.0.0.5"],
            }
        ),
    )
    assert [r["host"] for r in await resolver.resolve("cdn.example", 443)] == ["93.184.216.34"]
    with pytest.raises(
        BlockedAddress, match=re.escape("rebind.example: 169.254.169.254 is a cloud metadata address")
    ):
        await resolver.resolve("rebind.example", 443)
    with pytest.raises(BlockedAddress, match="private"):
        await resolver.resolve("internal.example", 443)


async def test_the_system_resolver_is_checked_too() -> None:
    with pytest.raises(BlockedAddress, match="loopback"):
        await SafeResolver(AddressPolicy()).resolve("localhost", 80)
    allowed = await SafeResolver(AddressPolicy(["127.0.0.0/8", "::1/128"])).resolve("localhost", 80)
    assert allowed


def test_image_types_come_from_the_bytes() -> None:
    assert sniff(png(1)) == PNG
    assert sniff(jpeg(1)) == JPEG
    assert sniff(b"GIF89a" + bytes(20)) == GIF
    assert sniff(b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(20)) == WEBP
    assert sniff(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(8)) == AVIF
    assert sniff(b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf" + bytes(8)) == AVIF
    assert sniff(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(8)) is None  # a video
    assert sniff(b"<!doctype html><html>") is None
    assert sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    assert sniff(b"") is None


@pytest.mark.parametrize(
    ("declared", "refused"),
    [
        ("image/jpeg", False),
        ("IMAGE/PNG; charset=binary", False),
        ("application/octet-stream", False),
        (None, False),
        ("text/html; charset=utf-8", True),
        ("application/json", True),
    ],
)
def test_declared_types_may_only_fail_to_contradict(declared: str | None, refused: bool) -> None:
    assert (declared_type_refusal(declared) is not None) == refused


def test_settings_fail_fast_on_a_bad_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVS_IMAGE_ALLOWED_NETWORKS", '["127.0.0.0/8", "not-a-network"]')
    with pytest.raises(ConfigurationError, match="AVS_IMAGE_ALLOWED_NETWORKS") as err:
        load_settings(ImageIngestorSettings)
    assert "'not-a-network' is not a network in CIDR form" in str(err.value)


def test_settings_defaults() -> None:
    s = ImageIngestorSettings()
    assert s.image_max_bytes == 20 * 1024 * 1024
    assert 3 <= s.image_download_attempts <= 5 and 30 <= s.image_download_deadline_seconds <= 60
    assert s.image_allowed_networks == []
