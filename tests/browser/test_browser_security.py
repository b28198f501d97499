"""Scenario 5: the lab server listens on 127.0.0.1 only and wants its token."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest


def listening_addresses(port: int) -> list[str]:
    """Local addresses with a socket in LISTEN state on `port` (Linux /proc/net/tcp{,6})."""
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(address)
            if width == 8:
                found.append(socket.inet_ntop(socket.AF_INET, raw[::-1]))
            else:  # four little-endian 32-bit words
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                found.append(socket.inet_ntop(socket.AF_INET6, words))
    return found


def other_addresses() -> set[str]:
    """This machine's non-loopback IPv4 addresses (best effort)."""
    found = set()
    try:
        found.update(info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None,
                                                                socket.AF_INET))
    except OSError:
        pass
    for probe in ("192.0.2.1", "10.255.255.255", "8.8.8.8"):  # no packet is sent (UDP connect)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                found.add(s.getsockname()[0])
        except OSError:
            pass
    return {a for a in found if not a.startswith("127.") and a != "0.0.0.0"}


def test_server_listens_on_loopback_only(lab_server):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp on this system")
    addresses = listening_addresses(lab_server.port)
    assert addresses, f"nothing listens on port {lab_server.port}"
    assert set(addresses) == {"127.0.0.1"}, (
        f"JupyterLab listens on {addresses}; it must listen on 127.0.0.1 only")


def test_server_unreachable_from_other_interfaces(lab_server):
    others = other_addresses()
    if not others:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    for address in sorted(others):
        with pytest.raises(OSError):
            socket.create_connection((address, lab_server.port), timeout=3).close()


@pytest.mark.parametrize("path", ["/api/contents", "/api/kernels", "/api/sessions"])
def test_api_needs_the_token(lab_server, path):
    assert lab_server.api("GET", path, token=None)[0] == 403
    assert lab_server.api("GET", path, token="not-the-token")[0] == 403
    status, body = lab_server.api("GET", path)
    assert status == 200, body[:200]


def test_browser_without_token_gets_the_login_page(chromium_browser, lab_server, take_screenshot):
    context = chromium_browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        page = context.new_page()
        page.goto(f"{lab_server.url}/lab/tree/")
        page.wait_for_load_state("domcontentloaded")
        assert "/login" in page.url, page.url
        assert "token" in page.inner_text("body").lower()
        assert page.locator("input[type=password]").count() >= 1  # token (and password) field
        assert page.locator(".jp-LabShell").count() == 0
        # the contents API, asked from this browser without the token, refuses too
        response = page.request.get(f"{lab_server.url}/api/contents")
        assert response.status == 403
        take_screenshot(page, "5_security_login_without_token")
    finally:
        context.close()
