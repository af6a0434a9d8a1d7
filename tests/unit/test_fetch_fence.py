"""The fetcher's fence (no local or private address at any hop), its deadline and its pace,
against a real HTTP server on loopback."""

from __future__ import annotations

import socket
import time

import pytest
from loopback_site import Route, loopback_site

import index.reading.fence
from index.reading.fence import refused
from index.reading.web import FetchError, FetchPolicy, HostPace, fetch, fetch_all

LOOPBACK = FetchPolicy(allow_private=True)


@pytest.fixture
def site():
    with loopback_site() as s:
        yield s


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.0.0.2", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
     "224.0.0.1", "0.0.0.0", "100.64.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1",
     "::ffff:10.0.0.1", "ff02::1", "::"],
)  # fmt: skip
def test_local_private_link_local_and_multicast_addresses_are_refused(address: str) -> None:
    assert refused(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert not refused(address)


def test_a_loopback_page_is_refused_before_any_request_unless_allowed(site) -> None:
    url = site.page("/page.html", "<html><body><p>Hello there.</p></body></html>")
    with pytest.raises(FetchError, match="local or private address") as caught:
        fetch(url)
    assert "\n" not in str(caught.value) and site.requests == []
    assert fetch(url, policy=LOOPBACK).status == 200  # the documented opt-in


def test_a_name_that_resolves_to_a_private_address_is_refused(monkeypatch) -> None:
    real = socket.getaddrinfo
    addresses = {
        "inside.test": ["10.0.0.1"],
        "metadata.test": ["169.254.169.254"],
        "both.test": ["93.184.216.34", "192.168.0.1"],  # the check covers every address
    }

    def resolve(host, port, *args, **kwargs):
        if host not in addresses:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses[host]]

    connects: list[object] = []
    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connects.append(a))
    for host, found in addresses.items():
        with pytest.raises(FetchError, match=f"{host} is at {found[-1]}"):
            fetch(f"http://{host}/latest/meta-data/")
    assert connects == []  # refused before any socket was opened


def test_every_redirect_hop_is_checked(site, monkeypatch) -> None:
    """The first hop is allowed, the redirect's target is not: the fence stops the second
    hop. (127.0.0.1 plays a public address here; 127.0.0.2 stays refused.)"""
    monkeypatch.setattr(index.reading.fence, "refused", lambda address: address != "127.0.0.1")
    port = site.url.rsplit(":", 1)[1]
    site.routes["/go"] = Route(status=302, location=f"http://127.0.0.2:{port}/secret")
    site.routes["/secret"] = Route(b"<html><body><p>internal</p></body></html>")
    with pytest.raises(FetchError, match="127.0.0.2 is at 127.0.0.2, a local or private"):
        fetch(site.url + "/go")
    assert [path for path, _ in site.requests] == ["/go"]


def test_a_trickling_server_cannot_hold_a_fetch_past_its_deadline(site) -> None:
    site.routes["/slow.html"] = Route(b"<html><body>" + b"x" * 200, trickle_s=0.2)
    policy = FetchPolicy(allow_private=True, deadline_s=1.0, timeout_s=5.0)
    started = time.monotonic()
    with pytest.raises(FetchError, match="did not finish within 1 s"):
        fetch(site.url + "/slow.html", policy=policy)
    assert time.monotonic() - started < 3.0  # each read alone never timed out


def test_a_slow_first_byte_is_a_read_timeout(site) -> None:
    site.routes["/late.html"] = Route(b"<html></html>", delay_s=1.5)
    policy = FetchPolicy(allow_private=True, deadline_s=30.0, timeout_s=0.5)
    with pytest.raises(FetchError, match="did not answer within 0.5 s"):
        fetch(site.url + "/late.html", policy=policy)


def test_fetch_all_keeps_the_order_fetches_a_few_at_once_and_paces_each_host(site) -> None:
    for n in range(6):
        site.routes[f"/p{n}.html"] = Route(f"<html><body>page {n}</body></html>".encode(),
                                           delay_s=0.3)  # fmt: skip
    urls = [f"{site.url}/p{n}.html" for n in range(6)] + [site.url + "/missing.html"]
    started = time.monotonic()
    results = fetch_all(urls, policy=LOOPBACK, workers=4, pace=HostPace(4, 0.0))
    at_once = time.monotonic() - started
    assert [isinstance(r, FetchError) for r in results] == [False] * 6 + [True]
    assert [f"page {n}" in r.body.decode() for n, r in enumerate(results[:6])] == [True] * 6
    assert "404" in str(results[-1])
    assert at_once < 6 * 0.3  # four at a time, not one after another

    started = time.monotonic()
    fetch_all(urls[:4], policy=LOOPBACK, workers=4, pace=HostPace(4, 0.5))
    assert time.monotonic() - started >= 3 * 0.5  # one host: starts at least 0.5 s apart
