"""The panels in a real JupyterLab, driven in Debian's Chromium through Playwright.

The test writes a notebook into a temporary directory, starts ``jupyter lab`` on
127.0.0.1 (a free port, a token of its own), opens the notebook in headless
Chromium and runs its cells one by one, as a person would. The simulator runs
inside the notebook's kernel and keeps its state in a SQLite file that the test
reads afterwards with ``smsframe simulator deliveries --db``. Nothing is
downloaded: Playwright drives /usr/bin/chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import nbformat
import pandas as pd
import pytest

CHROMIUM = os.environ.get("SMSFRAME_TEST_CHROMIUM", "/usr/bin/chromium")  # Debian's
KERNEL = "smsframe-test"
PASSWORD = "Brw-s3cret-pw"
PHONES = ["13800138000", "13900000001", "13700000002", "15000000003", "18600000004"]

pytestmark = pytest.mark.timeout(180)


def _at() -> datetime:
    """The time the test picks in the panel: in three days, 09:40 China Standard Time."""
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=3)
    return datetime.combine(day, datetime.min.time()).replace(hour=9, minute=40)


def _notebook(db: Path, journal: Path) -> nbformat.NotebookNode:
    cells = [
        f"""\
import pandas as pd
from smsframe import BalancePanel, SchedulePanel, SmsClient
from smsframe.simulator import Simulator

sim = Simulator({str(db)!r}).start()
sim.add_account(101, "demo", {PASSWORD!r}, balance=1000)
client = SmsClient(sim.wsdl_url, 101, "demo", {PASSWORD!r})
sim.inject("SendTimer", "delay", delay_ms=1500, times=1)  # a slow provider: watch the button
df = pd.DataFrame({{
    "name": ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊"],
    "phone": {[*PHONES, "021-62345678"]!r},
}})
print("ready", sim.url)""",
        "balance = BalancePanel(client, warn_below=100)\nbalance",
        f"""\
schedule = SchedulePanel(
    client, df, message="【smsframe】周五上午十点开抢，回T退订", campaign="browser",
    journal={f"sqlite:///{journal}"!r},
)
schedule""",
        'answer = client.send("您好", ["13800138000", "13900000001"], timestamp=1764000000)\n'
        'print("sent", answer.status)',
        "d = sim.deliveries()\n"
        'timer = (d.operation == "SendTimer").sum()\n'
        'times = sorted(set(d.scheduled_for.dropna().dt.strftime("%Y-%m-%d %H:%M")))\n'
        'print("deliveries", len(d), "timer", timer, times)\n'
        'print("result", (schedule.result["sms_status"] == "scheduled").sum())',
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {
        "name": KERNEL,
        "display_name": "smsframe test kernel",
        "language": "python",
    }
    return notebook


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, token: str, method: str = "GET") -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    request = urllib.request.Request(
        url, method=method, headers={"Authorization": f"token {token}"}
    )
    with opener.open(request, timeout=5) as answer:
        return answer.read()


class Lab:
    """A JupyterLab server in ``root``, on 127.0.0.1, its own config, data and runtime dirs."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root, self.home = root, home
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / "jupyterlab.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        data, config = self.home / "data", self.home / "config"
        kernel = data / "kernels" / KERNEL
        kernel.mkdir(parents=True)
        (kernel / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "smsframe test kernel",
                    "language": "python",
                }
            )
        )
        (config / "labconfig").mkdir(parents=True)
        (config / "labconfig" / "page_config.json").write_text(
            json.dumps(
                {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
            )
        )
        env = {
            **os.environ,
            "JUPYTER_PATH": str(data),  # searched first: the kernel above runs this Python
            "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTER_DATA_DIR": str(data),
            "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
            "IPYTHONDIR": str(self.home / "ipython"),
            "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.password=",
            "--ServerApp.allow_root=True",  # CI runs as root
            "--ServerApp.terminals_enabled=False",
            "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.news_url=",
            f"--LabServerApp.user_settings_dir={self.home / 'settings'}",
            f"--LabServerApp.workspaces_dir={self.home / 'workspaces'}",
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as a whole
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{self.tail()}")
            with contextlib.suppress(OSError):
                _get(f"{self.url}/api/status", self.token)
                return
            time.sleep(0.25)
        raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{self.tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(OSError, ValueError):  # shut the kernels down first
            for kernel in json.loads(_get(f"{self.url}/api/kernels", self.token)):
                _get(f"{self.url}/api/kernels/{kernel['id']}", self.token, method="DELETE")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_lab(tmp_path: Path) -> Iterator[Lab]:
    """A JupyterLab server, always stopped afterwards (its kernels too)."""
    root = tmp_path / "notebooks"
    root.mkdir()
    server = Lab(root, tmp_path / "jupyter")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def chromium_page(tmp_path: Path):
    """A page in headless Debian Chromium, its profile under ``tmp_path``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # Playwright's way to pass --user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-proxy-server",
            ],
            viewport={"width": 1400, "height": 1100},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def test_panels_in_jupyterlab(tmp_path: Path, require_program) -> None:
    if not os.path.exists(CHROMIUM):
        require_program(
            f"{CHROMIUM} is missing: install Debian's Chromium with `apt-get install -y "
            "chromium` (.ci/run does it); this test never downloads a browser"
        )
    with running_lab(tmp_path) as lab, chromium_page(tmp_path) as page:
        drive(lab, page, tmp_path)


def drive(lab: Lab, page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    db, journal = tmp_path / "simulator.sqlite", tmp_path / "journal.sqlite"
    nbformat.write(_notebook(db, journal), lab.root / "panels.ipynb")
    expect.set_options(timeout=30_000)
    page.goto(f"{lab.url}/lab/tree/panels.ipynb?token={lab.token}")
    cells = page.locator(".jp-Notebook .jp-Cell")
    expect(cells).to_have_count(5)
    expect(page.locator(".jp-StatusBar-Widget")).to_contain_text("Idle", timeout=60_000)

    def run(index: int) -> None:
        """Click into cell ``index`` and run it (Ctrl+Enter); again if the click was lost
        to a layout shift (an output above still rendering)."""
        cell = cells.nth(index)
        for _ in range(5):
            cell.locator(".jp-InputArea-editor").click()
            try:
                expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"), timeout=2000)
            except AssertionError:
                continue
            page.keyboard.press("Control+Enter")  # run this cell, stay on it
            with contextlib.suppress(AssertionError):  # "[*]:" as soon as it is queued
                prompt = cell.locator(".jp-InputPrompt").first
                expect(prompt).not_to_have_text("[ ]:", timeout=5000)
                return
        raise AssertionError(f"could not run cell {index}")

    def row(table, name: str):
        return table.get_by_role("row", name=name, exact=True)

    def output(index: int):
        return cells.nth(index).locator(".jp-OutputArea")

    try:
        run(0)
        expect(output(0)).to_contain_text("ready http://127.0.0.1:", timeout=90_000)

        # The balance renders.
        run(1)
        balance = page.locator(".smsframe-balance-panel")
        figures = balance.locator(".smsframe-balance-figures")
        expect(row(figures, "Balance 1,000")).to_be_visible()
        expect(figures).to_contain_text("account OK")
        expect(balance).not_to_contain_text(PASSWORD)

        run(2)
        panel = page.locator(".smsframe-schedule-panel")
        expect(row(panel.locator(".smsframe-schedule-preview"), "Recipients 5")).to_be_visible()
        expect(panel).to_contain_text("China Standard Time")

        # A send from another cell; Refresh shows the new balance.
        run(3)
        expect(output(3)).to_contain_text("sent sent")
        expect(row(figures, "Balance 1,000")).to_be_visible()
        balance.locator(".smsframe-balance-refresh").click()
        expect(row(figures, "Balance 998")).to_be_visible()
        expect(row(figures, "Sended 2")).to_be_visible()
        balance.screenshot(path=str(tmp_path / "balance-panel.png"))

        # Pick a date and a time in the panel, ask, confirm.
        at = _at()
        panel.locator(".smsframe-schedule-date input").fill(f"{at:%Y-%m-%d}")
        panel.locator(".smsframe-schedule-time input").fill(f"{at:%H:%M}")
        preview = panel.locator(".smsframe-schedule-preview")
        expect(preview).to_contain_text(f"Plan for {at:%Y-%m-%d %H:%M} China Standard Time")
        panel.locator(".smsframe-schedule-button").click()
        confirmation = panel.locator(".smsframe-schedule-confirmation")
        expect(confirmation).to_be_visible()
        expect(confirmation).to_contain_text("A scheduled batch cannot be cancelled")
        panel.screenshot(path=str(tmp_path / "schedule-panel-confirm.png"))
        panel.locator(".smsframe-schedule-confirm").click()
        expect(panel.locator(".smsframe-schedule-button")).to_be_disabled()  # while running
        summary = panel.locator(".smsframe-schedule-summary")
        expect(summary).to_contain_text(
            f"5 recipients scheduled for {at:%Y-%m-%d %H:%M} China Standard Time"
        )
        expect(panel.locator(".smsframe-schedule-upcoming")).to_contain_text("browser")
        expect(panel.locator(".smsframe-schedule-button")).to_be_enabled()
        panel.screenshot(path=str(tmp_path / "schedule-panel.png"))

        # The simulator received it: asked from the notebook, then read from its file.
        run(4)
        expect(output(4)).to_contain_text(f"deliveries 7 timer 5 ['{at:%Y-%m-%d %H:%M}']")
        expect(output(4)).to_contain_text("result 5")
    except AssertionError as error:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise AssertionError(
            f"{error}\nscreenshot: {tmp_path / 'failure.png'}; jupyter lab log:\n{lab.tail()}"
        ) from None

    listing = subprocess.run(
        [sys.executable, "-m", "smsframe.cli", "simulator", "deliveries", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    deliveries = pd.read_csv(io.StringIO(listing), dtype={"phone": str})
    timer = deliveries[deliveries["operation"] == "SendTimer"]
    assert sorted(timer["phone"]) == sorted(PHONES)
    scheduled = pd.to_datetime(timer["scheduled_for"])
    assert (scheduled == pd.Timestamp(at, tz="Asia/Shanghai")).all()
    for name in ("balance-panel.png", "schedule-panel.png", "schedule-panel-confirm.png"):
        assert (tmp_path / name).stat().st_size > 1000
