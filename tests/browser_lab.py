"""JupyterLab in headless Chromium, for tests/test_browser.py: start a server from this venv on 127.0.0.1
with a token, open a notebook, Run All through the menu, and report what a learner would see wrong.

Everything started here (the server, the browser) is stopped by process id. Nothing is written into the
repository: notebooks run from copies in a temporary folder, with temporary Jupyter config, runtime,
settings and workspace folders.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
INSTALL = (
    "apt-get install -y chromium chromium-driver fonts-dejavu-core && "
    "pip install -e '.[notebooks,browser]'"
)
SETTINGS = {  # no news or update checks (nothing may reach the internet); every cell in the DOM
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def find_browser() -> tuple[str | None, str | None, str | None]:
    """(chromium, chromedriver, why not) — why not is None when both and selenium are here."""
    chromium = next((p for p in CHROMIUM if os.access(p, os.X_OK)), None)
    driver = next((p for p in DRIVER if os.access(p, os.X_OK)), None)
    try:
        import selenium  # noqa: F401
    except ImportError:
        return chromium, driver, f"selenium is not installed; {INSTALL}"
    if not (chromium and driver):
        return chromium, driver, f"Chromium or chromedriver not found; {INSTALL}"
    return chromium, driver, None


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if the test process dies without its teardown."""
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server over `root` (a temporary folder), optionally without the widgets extension."""

    def __init__(self, root: Path, widgets: bool = True, timeout: float = 90.0):
        self.root, self.port, self.token = Path(root), _free_port(), os.urandom(16).hex()
        self.url = f"http://127.0.0.1:{self.port}"
        home = self.root.parent / f"jupyter-{self.port}"
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
            KT_SMOKE="1",
            # one torch thread per kernel unless told otherwise: on a busy 2-core machine two threads
            # spinning against other work made one Run All of 04 take 705 s instead of about a minute
            OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        )
        (home / "config").mkdir(parents=True, exist_ok=True)
        config = {
            "LabApp": {
                "news_url": None,
                "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
                "extension_manager": "readonly",
            }
        }
        (home / "config" / "jupyter_server_config.json").write_text(json.dumps(config))
        for name, values in SETTINGS.items():
            path = home / "settings" / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        jupyter = [sys.executable, "-m", "jupyter"]
        if not widgets:
            subprocess.run(
                [
                    *jupyter,
                    "labextension",
                    "disable",
                    "--level=user",
                    "@jupyter-widgets/jupyterlab-manager",
                ],
                env=env,
                check=True,
                capture_output=True,
            )
        self.log = home / "server.log"
        self.proc = subprocess.Popen(
            [
                *jupyter,
                "lab",
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={self.port}",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.root}",
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(
            f"jupyter lab did not answer in {timeout:.0f} s: {self.log.read_text()[-2000:]}"
        )

    def kernel_state(self, name: str) -> str | None:
        """The execution state of the kernel of notebook `name` (None: no session yet)."""
        try:
            with urllib.request.urlopen(
                f"{self.url}/api/sessions?token={self.token}", timeout=5
            ) as r:
                sessions = json.load(r)
        except OSError:
            return None
        for s in sessions:
            if s.get("path") == name and s.get("kernel"):
                return s["kernel"].get("execution_state")
        return None

    def close(self, name: str) -> None:
        """Shut down the kernel of notebook `name` (its session), if any."""
        try:
            with urllib.request.urlopen(
                f"{self.url}/api/sessions?token={self.token}", timeout=5
            ) as r:
                sessions = json.load(r)
            for s in sessions:
                if s.get("path") == name:
                    req = urllib.request.Request(
                        f"{self.url}/api/sessions/{s['id']}?token={self.token}", method="DELETE"
                    )
                    urllib.request.urlopen(req, timeout=10).close()
        except OSError:
            pass  # the server is stopping anyway

    def stop(self) -> None:
        """Ask the server to shut down (it stops its kernels), then end it by process id."""
        if self.proc.poll() is None:
            try:
                req = urllib.request.Request(
                    f"{self.url}/api/shutdown?token={self.token}", method="POST"
                )
                urllib.request.urlopen(req, timeout=5).close()
                self.proc.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


def start_browser(chromium: str, driver: str):
    from selenium import webdriver

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.add_argument("--window-size=1400,1600")
    return webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=driver))
