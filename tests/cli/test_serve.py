"""--serve: the app in a browser through textual-serve. The command line it serves, the
checks on its flags, and (where Chromium and textual-serve are installed) a headless
Chromium that loads the page and finds the Config screen in it."""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diffrec_tui import cli
from diffrec_tui.headless import serve as serve_cmd

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def test_served_command_carries_the_apps_arguments(tmp_path):
    args = cli.absolute_paths(cli.build_parser().parse_args(
        ["--serve", "--port", "8123", "default", "--set", "steps=7", "--runs-dir", str(tmp_path), "--device", "cpu"]))
    assert cli.command_of(args) == "serve"
    cmd = serve_cmd.app_command(args)
    assert cmd.startswith(f"{sys.executable} -m diffrec_tui ")
    assert "--set steps=7" in cmd and f"--runs-dir {tmp_path}" in cmd and "--device cpu" in cmd
    assert "default.yaml" in cmd  # a shipped config's name resolved to its absolute path


def test_port_without_serve_and_a_bad_port_are_refused(capsys):
    assert cli.main(["--port", "8000"]) == 2
    assert "--port does not go with the app; it belongs to --serve" in capsys.readouterr().err
    assert cli.main(["--serve", "--port", "70000"]) == 2
    assert "is not a TCP port" in capsys.readouterr().err


def test_serve_without_the_extra_says_how_to_install(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)  # as if not installed
    assert cli.main(["--serve"]) == 2
    assert "pip install 'diffrec-tui[serve]'" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("localhost", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port} after {timeout}s")


async def browser_got_the_app(dbg_port: int, shot: Path, timeout: float = 90.0) -> str:
    """Ask Chromium (DevTools protocol) until the page's terminal received the app's first
    bytes (textual-serve marks <body> with -first-byte); save a screenshot; return the class."""
    import base64

    import aiohttp
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                pages = await (await http.get(f"http://localhost:{dbg_port}/json/list")).json()
                url = next(p["webSocketDebuggerUrl"] for p in pages if p.get("type") == "page")
                break
            except (aiohttp.ClientError, StopIteration):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)
        async with http.ws_connect(url, max_msg_size=0) as ws:
            async def call(i: int, method: str, **params):
                await ws.send_json({"id": i, "method": method, "params": params})
                async for msg in ws:
                    data = msg.json()
                    if data.get("id") == i:
                        return data["result"]
            cls, i = "", 1
            while "-first-byte" not in cls and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                i += 1
                res = await call(i, "Runtime.evaluate", expression="document.body.className", returnByValue=True)
                cls = res["result"].get("value") or ""
            await asyncio.sleep(2.0)  # let the first screen finish drawing
            png = await call(i + 1, "Page.captureScreenshot", format="png")
            shot.write_bytes(base64.b64decode(png["data"]))
            return cls


async def served_text(port: int, seconds: float = 30.0) -> str:
    """What the served app sends a terminal client (as the page's script does), decoded."""
    import aiohttp
    out = b""
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"http://localhost:{port}/ws?width=140&height=42") as ws:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and b"noise_schedule" not in out:
                try:
                    msg = await ws.receive(timeout=2.0)
                except asyncio.TimeoutError:
                    continue
                if msg.type == aiohttp.WSMsgType.BINARY:
                    out += msg.data
                elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    break
    return out.decode("utf-8", "replace")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (apt-get install chromium)")
def test_headless_chromium_shows_the_config_screen(tmp_path):
    """Starts `diffrec-tui --serve`, loads the page in headless Chromium until the app's
    screen reached the browser's terminal, and reads the served screen: the Config form."""
    pytest.importorskip("textual_serve")
    port, dbg = free_port(), free_port()
    server = subprocess.Popen([sys.executable, "-m", "diffrec_tui", "--serve", "--port", str(port),
                               "--runs-dir", str(tmp_path / "runs")], cwd=tmp_path, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser = None
    try:
        wait_port(port)
        browser = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                    f"--remote-debugging-port={dbg}", f"--user-data-dir={tmp_path / 'chrome'}",
                                    "--window-size=1280,800", f"http://localhost:{port}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        shot = tmp_path / "page.png"
        cls = asyncio.run(browser_got_the_app(dbg, shot))
        assert "-first-byte" in cls, f"the page never received the app (body class {cls!r})"
        assert shot.stat().st_size > 10_000  # a drawn terminal, not a blank page
        text = asyncio.run(served_text(port))
        assert "Config" in text and "noise_schedule" in text  # the Config screen's form
    finally:
        for proc in (browser, server):
            if proc is None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)  # with the app processes the server started
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
