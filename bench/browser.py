"""How fast the storefront shows a store's products, measured in Chromium
with the page's own Performance API.

    .venv/bin/python bench/browser.py [--runs 10]

Starts `twistd cybermarket --web` with a fresh SQLite database, seeds a
store of 20 products, opens the storefront in headless Chromium (Debian's
`chromium`, driven by Playwright) and, from the store list, opens the store
`--runs` times: each time, the milliseconds from the click (the hash
change) to the products on screen.  Also the first load: navigation start
to the store list shown.  Target: a store's products within 300 ms.
"""

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import seed  # noqa: E402
from bench.servers import Servers  # noqa: E402
from tests.test_browser import CHROMIUM, FLAGS  # noqa: E402

OPEN_STORE = """async () => {
  location.hash = "#/";
  await new Promise((done) => {
    const check = () => document.querySelector(".store") ? done() : requestAnimationFrame(check);
    check();
  });
  const started = performance.now();
  location.hash = "#/store/bench";
  await new Promise((done) => {
    const shown = () => document.querySelectorAll("article.product").length >= 20;
    const check = () => (shown() ? done() : requestAnimationFrame(check));
    check();
  });
  return performance.now() - started;
}"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    servers = Servers(web=True)
    try:
        asyncio.run(seed(servers.port, servers.invite(), 1))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{servers.web_port}/")
            page.wait_for_selector(".store")
            first = page.evaluate("performance.now()")
            times = [page.evaluate(OPEN_STORE) for _ in range(args.runs)]
            browser.close()
        print(f"first load to the store list: {first:.0f} ms")
        print(
            f"opening a store of 20 products, {args.runs} runs: median "
            f"{statistics.median(times):.0f} ms, slowest {max(times):.0f} ms (target 300 ms)"
        )
    finally:
        servers.stop()


if __name__ == "__main__":
    main()
