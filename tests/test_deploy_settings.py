"""Production settings (SECURE_COOKIES=1) pass Django's deployment checks and send HTTPS-only headers.

Settings are read from the environment when config/settings.py is imported, so each check runs
in a new Python process with the environment a deployment would have, as a CI step would.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOST = "insights.example.com"


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # the machine's environment (database, Redis) without what a test run may have set for itself
    # (the e2e fixtures allow async-unsafe calls, which check --deploy rightly refuses)
    dropped = ("SECURE_", "PROXY_", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="0",
        SECURE_COOKIES="1",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS=HOST,
        CSRF_TRUSTED_ORIGINS=f"https://{HOST}",
        SITE_URL=f"https://{HOST}",
        VAR_DIR=str(tmp_path / "var"),
    )
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_secure_cookies(tmp_path):
    """The check above is worth something: the demo's defaults do not pass it."""
    env = _production_env(tmp_path, SECURE_COOKIES="0")

    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


HEADERS_SCRIPT = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="%(host)s")
plain = client.get("/login/")
proxied = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location")],
    "https": [proxied.status_code, proxied.headers.get("Strict-Transport-Security")],
    "cookies_secure": [bool(proxied.cookies[name]["secure"]) for name in proxied.cookies],
}))
"""


def test_production_redirects_to_https_and_sends_hsts(tmp_path):
    result = _run(["-c", HEADERS_SCRIPT % {"host": HOST}], _production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["plain"] == [301, f"https://{HOST}/login/"]
    assert seen["https"] == [200, "max-age=31536000; includeSubDomains"]
    assert seen["cookies_secure"] and all(seen["cookies_secure"])


@pytest.mark.django_db
def test_the_demo_serves_plain_http_without_hsts(client):
    response = client.get("/login/")

    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers
