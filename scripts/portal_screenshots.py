"""Screenshots of every portal page at phone (375 px) and desktop (1280 px) width.

Runs ``medledger portal --demo --no-browser`` in a fresh temporary MEDLEDGER_HOME (so the demo
node is seeded with the reference scenario from scratch), unlocks it in Debian's Chromium
(headless) and writes docs/portal/<page>-<width>.png. Usage (after ``. tools/env.sh``)::

    python scripts/portal_screenshots.py [--out docs/portal]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PASSWORD = "demo-screenshots"  # noqa: S105 - the throwaway demo key of a temporary home
WIDTHS = (375, 1280)


def start_demo(home: Path) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, MEDLEDGER_HOME=str(home), MEDLEDGER_PASSWORD=PASSWORD)
    proc = subprocess.Popen(
        [sys.executable, "-m", "medledger.cli", "portal", "--demo", "--no-browser"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 600
    for line in proc.stderr:
        print(line, end="", file=sys.stderr)
        found = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if found:
            return proc, found.group(1)
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise SystemExit("the demo portal did not start")


def shoot(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"], headless=True
        )
        for width in WIDTHS:
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            page.goto(url + "/unlock")
            page.screenshot(path=str(out / f"unlock-{width}.png"), full_page=True)
            written.append(out / f"unlock-{width}.png")
            page.get_by_label("Keystore password").fill(PASSWORD)
            page.get_by_role("button", name="Unlock").click()
            page.wait_for_url(url + "/timeline")
            targets = {
                "timeline": "/timeline",
                "grants": "/grants",
                "log": "/log",
                "emergency": "/emergency",
                "safety": "/safety",
            }
            for name, path in targets.items():
                page.goto(url + path)
                if name == "timeline":
                    page.screenshot(path=str(out / f"timeline-{width}.png"), full_page=True)
                    written.append(out / f"timeline-{width}.png")
                    page.locator("li.record", has_text="allergies").get_by_role(
                        "link", name="Open"
                    ).first.click()
                    name, path = "record", ""
                elif name == "grants":
                    page.screenshot(path=str(out / f"grants-{width}.png"), full_page=True)
                    written.append(out / f"grants-{width}.png")
                    page.get_by_role("link", name=re.compile("^Revoke ")).first.click()
                    name = "revoke"
                page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True)
                written.append(out / f"{name}-{width}.png")
            context.close()
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/portal"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="medledger-portal-shots-") as tmp:
        proc, url = start_demo(Path(tmp))
        try:
            for path in shoot(url, args.out):
                print(path)
        finally:
            proc.send_signal(signal.SIGINT)  # the portal stops the demo node it started
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
