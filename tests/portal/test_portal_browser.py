"""The patient portal in a real browser (Debian's Chromium, headless) against a real Anvil.

One browser for the module; each test opens its own context (cookies) and unlocks. The chain
facts behind what the page shows are checked through the SDK, not through the page alone.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers.portal import PASSWORD, World, overlapping, seed, serve
from medledger.portal.app import CSP

pytestmark = pytest.mark.anvil


def unlocked(browser: Any, url: str, *, width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(url + "/timeline")
    assert page.url.endswith("/unlock")
    page.get_by_label("Keystore password").fill(PASSWORD)
    page.get_by_role("button", name="Unlock").click()
    page.wait_for_url(url + "/timeline")
    return page


def flash(page: Any) -> str:
    return str(page.locator(".flash").first.inner_text())


def test_unlock_shows_the_timeline_with_fhir_summaries(
    browser: Any, portal_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    page = unlocked(browser, portal_url)
    records = page.locator("li.record")
    assert records.count() == 3
    assert "Riverside Family Clinic" in records.first.inner_text()
    page.locator("li.record", has_text="allergies").get_by_role("link", name="Open").click()
    card = page.locator("section.fhir")
    assert "Allergy to penicillin" in card.inner_text()
    assert "criticality: high" in card.inner_text()
    page.go_back()
    page.locator("li.record", has_text="imaging").get_by_role("link", name="Open").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the decrypted file").click()
    assert Path(info.value.path()).read_bytes().startswith(b"DICM")
    # keyboard: the first Tab reaches the skip link; no control without an accessible name
    page.goto(portal_url + "/grants")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, button')]
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.textContent.trim()).map(el => el.outerHTML)"""
    )
    assert unnamed == []
    page.context.close()
    # no PHI and no request paths (they name records) in what the server wrote
    _, err = capfd.readouterr()
    assert "penicillin" not in err
    assert "/records/" not in err
    assert "DICM" not in err


def test_every_page_fits_a_phone(browser: Any, portal_url: str) -> None:
    page = unlocked(browser, portal_url, width=375)
    for path in ("/timeline", "/grants", "/log", "/emergency", "/safety"):
        page.goto(portal_url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
        assert page.locator("nav a").count() == 5
    page.context.close()


def test_every_page_carries_the_security_headers_and_injected_script_does_not_run(
    browser: Any, portal_url: str
) -> None:
    page = unlocked(browser, portal_url)
    for path in ("/timeline", "/grants", "/log", "/emergency", "/safety", "/unlock"):
        headers = page.goto(portal_url + path).headers
        assert headers["content-security-policy"] == CSP, path
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"  # pages hold PHI: never cached
    # what the policy is for: a script that got into the page (say, through a record's text)
    # is refused by the browser, and says so
    page.goto(portal_url + "/timeline")
    violated = page.evaluate(
        """() => new Promise(resolve => {
            document.addEventListener('securitypolicyviolation', e => resolve(e.violatedDirective));
            const s = document.createElement('script');
            s.textContent = 'window.injected = true';
            document.body.appendChild(s);
            setTimeout(() => resolve(null), 3000);
        })"""
    )
    assert violated is not None
    assert violated.startswith("script-src")
    assert page.evaluate("window.injected === undefined")
    page.context.close()


def test_grant_labs_for_30_days_then_revoke(browser: Any, portal_url: str, world: World) -> None:
    page = unlocked(browser, portal_url)
    page.get_by_role("link", name="Who can see what").click()
    page.get_by_label("Provider (from the registry)").select_option(label="Northside Lab")
    page.get_by_label("labs").check()
    page.get_by_label("Purpose").select_option("treatment")
    page.get_by_label("Amount").fill("30")
    page.get_by_label("Unit").select_option("days")
    page.get_by_role("button", name="Grant access").click()
    assert "Granted Northside Lab read access to labs" in flash(page)
    row = page.locator(f'tr[data-grantee="{world.lab.address}"]')
    countdown = row.locator("time.countdown")
    assert re.fullmatch(r"29 days 23 hours|30 days", countdown.inner_text())
    remaining = int(countdown.get_attribute("data-remaining"))
    (grant,) = [g for g in world.patient.consent.active() if g.grantee == world.lab.address]
    assert [c.name for c in grant.categories] == ["LABS"]
    assert abs(grant.valid_until - world.ml.now() - 30 * 86400) < 120
    assert abs(remaining - 30 * 86400) < 120

    row.get_by_role("link", name="Revoke Northside Lab").click()
    assert "Revocation does not" in page.locator("main").inner_text()
    assert "recall copies it already read" in page.locator("main").inner_text()
    page.get_by_role("button", name="Revoke now").click()
    assert "Revoked Northside Lab" in flash(page)
    assert page.locator(f'tr[data-grantee="{world.lab.address}"]').count() == 0
    assert not world.ml.contracts.medledger.get_consent(world.pid, world.lab.address).exists
    page.context.close()


def test_access_log_gains_entries_while_open(browser: Any, portal_url: str, world: World) -> None:
    page = unlocked(browser, portal_url)
    page.get_by_role("link", name="Access log").click()
    assert "Hash chain verified" in page.locator("#verification").inner_text()
    before = page.locator("#log-body tr").count()
    newest = int(page.locator("#log-body").get_attribute("data-newest"))
    clinic = world.as_provider(world.clinic)
    lab_record = next(r for r in clinic.records.timeline(world.pid) if r.category.name == "LABS")

    def read_in_background() -> None:
        clinic.access.read(lab_record.record_id, purpose="treatment", patient_id=world.pid)

    reader = threading.Thread(target=read_in_background)
    reader.start()
    reader.join(60)
    # the page polls; the CSP forbids eval, so wait for the row itself (no reload anywhere)
    page.locator(f'#log-body tr[data-seq="{newest + 1}"]').wait_for(timeout=20_000)
    assert page.locator("#log-body tr").count() == before + 1
    assert "Riverside Family Clinic" in page.locator("#log-body tr").first.inner_text()
    assert "read record" in page.locator("#log-body tr").first.inner_text()
    # the chart redrawn with the new read: labels never overlap, whatever the spacing in time
    assert page.locator("#chart .mark").count() >= 2
    assert overlapping(page, "#chart text.tick-label") == []
    assert overlapping(page, "#chart text.gap-label") == []
    page.context.close()


def test_close_a_break_glass_window(browser: Any, portal_url: str, world: World) -> None:
    er = world.as_provider(world.er)
    er.emergency.break_glass(world.pid, "unconscious_patient", timedelta(hours=6), "test")
    page = unlocked(browser, portal_url)
    alert = page.locator(".alert.danger")
    assert "new break-glass opening" in alert.inner_text()
    assert "City General Emergency Dept." in alert.inner_text()
    alert.get_by_role("link", name="See emergency access").click()
    row = page.locator(f'tr[data-responder="{world.er.address}"]')
    assert "unconscious patient" in row.inner_text()
    row.get_by_role("button", name="Close now: City General Emergency Dept.").click()
    assert "Closed the break-glass window of City General Emergency Dept." in flash(page)
    assert page.locator("#no-windows").is_visible()
    contract = world.ml.contracts.medledger
    assert contract.break_glass_until(world.pid, world.er.address) <= world.ml.now()
    page.goto(portal_url + "/timeline")  # seen now: no alert any more
    assert page.locator(".alert.danger").count() == 0
    page.context.close()


def test_download_the_accounting_report(browser: Any, portal_url: str) -> None:
    page = unlocked(browser, portal_url)
    page.goto(portal_url + "/log")
    with page.expect_download() as info:
        page.get_by_role("link", name=re.compile("HIPAA accounting")).click()
    download = info.value
    assert download.suggested_filename.endswith("-accounting.html")
    text = Path(download.path()).read_text()
    assert "Riverside Family Clinic" in text
    assert "<svg" in text
    page.context.close()


def test_wrong_password_is_refused(browser: Any, portal_url: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(portal_url + "/unlock")
    page.get_by_label("Keystore password").fill("not the password")
    page.get_by_role("button", name="Unlock").click()
    assert "Wrong password" in page.get_by_role("alert").inner_text()
    page.goto(portal_url + "/grants")
    assert page.url.endswith("/unlock")  # nothing was unlocked
    context.close()


def test_forged_request_without_csrf_token(browser: Any, portal_url: str, world: World) -> None:
    page = unlocked(browser, portal_url)
    # the page's own cookies, but no token: what a forged cross-site form would send
    response = page.request.post(
        portal_url + "/grants/revoke", form={"grantee": world.clinic.address}
    )
    assert response.status == 403
    assert "security token (CSRF protection)" in response.text()
    assert "Nothing was changed" in response.text()
    assert world.ml.contracts.medledger.get_consent(world.pid, world.clinic.address).exists
    response = page.request.post(portal_url + "/lock", form={})
    assert response.status == 403
    page.context.close()


def test_idle_session_locks_and_does_nothing(browser: Any, world: World, tmp_path: Path) -> None:
    server = serve(world, tmp_path, idle_timeout=2.0)
    try:
        page = unlocked(browser, server.url)
        page.goto(server.url + "/grants")
        page.get_by_label("Provider (from the registry)").select_option(label="Northside Lab")
        page.get_by_label("genomics").check()
        time.sleep(2.5)
        page.get_by_role("button", name="Grant access").click()
        assert page.url.endswith("/unlock?m=idle")
        assert "locked itself after 2 seconds without activity" in flash(page)
        assert "Nothing was changed" in flash(page)
        consent = world.ml.contracts.medledger.get_consent(world.pid, world.lab.address)
        assert not consent.categories & (1 << 9)
        page.goto(server.url + "/timeline")
        assert page.url.endswith("/unlock")
        page.context.close()
    finally:
        server.stop()


def test_chain_node_that_goes_away(browser: Any, tmp_path: Path) -> None:
    w = seed(tmp_path, records=False)
    server = serve(w, tmp_path, chain_label=f"the chain node at {w.node.url}")
    try:
        page = unlocked(browser, server.url)
        log = page.context.new_page()
        log.goto(server.url + "/log")
        page.goto(server.url + "/grants")
        page.get_by_label("Provider (from the registry)").select_option(label="Northside Lab")
        page.get_by_label("labs").check()
        pins = w.ml.store.pins()
        w.node.stop()
        # the open log page says so by itself (its polling fails) ...
        live = log.locator("#live")
        live.wait_for(state="visible", timeout=20_000)
        assert "does not answer" in live.inner_text()
        # ... and a change submitted now is refused whole, with a clear message
        page.get_by_role("button", name="Grant access").click()
        text = flash(page)
        assert f"The chain node at {w.node.url} does not answer" in text
        assert "Nothing was changed" in text
        assert w.ml.store.pins() == pins  # no key bundle or keyring left pinned
        page.goto(server.url + "/emergency")
        assert "does not answer" in page.locator("#unavailable").inner_text()
        page.context.close()
    finally:
        server.stop()
        w.node.stop()


def test_pending_recovery_banner_and_cancel(browser: Any, portal_url: str, world: World) -> None:
    guardian, stranger = world.ml.dev_party(5), world.ml.dev_party(6)
    world.patient.recovery.set_guardians([guardian.address], 1, timedelta(days=2))
    world.ml.session(guardian).recovery.approve(world.pid, stranger.address)
    page = unlocked(browser, portal_url)
    page.get_by_role("link", name="Safety").click()
    banner = page.locator("#pending-recovery")
    assert "A recovery of your record is pending" in banner.inner_text()
    assert stranger.address in banner.inner_text()
    assert "1 of 1 guardians" in page.locator("main").inner_text()
    banner.get_by_role("button", name="Cancel this recovery").click()
    assert "The pending recovery was cancelled" in flash(page)
    assert page.locator("#pending-recovery").count() == 0
    assert world.ml.pending_recovery(world.pid).candidate != stranger.address
    page.context.close()
