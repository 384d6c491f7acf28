"""Settings from the environment: bad values give one clear line, not a traceback."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.env import database_from_url, email_from_url, env_bool, env_list

BASE_DIR = Path(settings.BASE_DIR)


@pytest.fixture
def without_mysql_driver(monkeypatch):
    """Pretend MySQLdb is not installed, whatever this machine has."""
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "MySQLdb" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


# --- DATABASE_URL ---------------------------------------------------------------


def test_mysql_without_its_driver_names_the_package_to_install(without_mysql_driver, tmp_path):
    with pytest.raises(ImproperlyConfigured, match=r"pip install mysqlclient"):
        database_from_url("mysql://user:pw@db.example/shop", base_dir=tmp_path)


@pytest.mark.parametrize("url", ["mongodb://db.example/shop", "oracle://u@h/x", "nonsense"])
def test_unknown_database_scheme_is_refused(url, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="not supported"):
        database_from_url(url, base_dir=tmp_path)


def test_no_database_url_means_a_sqlite_file_in_wal_mode(tmp_path):
    config = database_from_url(None, base_dir=tmp_path)

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "db.sqlite3")
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    # A file, not :memory:, so a worker process sees the test database; one per process, so
    # two test runs on one machine do not share it.
    test_db = Path(config["TEST"]["NAME"])
    assert test_db.parent == tmp_path
    assert test_db.name.startswith("test_")
    assert str(os.getpid()) in test_db.name


def test_postgres_url_is_parsed(tmp_path):
    config = database_from_url("postgres://shop:s%40cret@db.example:6543/insights", base_dir=tmp_path)

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"], config["NAME"]) == (
        "shop",
        "s@cret",
        "db.example",
        6543,
        "insights",
    )
    assert config["CONN_HEALTH_CHECKS"] is True
    assert config["TEST"]["NAME"].startswith("test_insights")
    assert str(os.getpid()) in config["TEST"]["NAME"]


def test_sqlite_url_with_an_absolute_path(tmp_path):
    config = database_from_url(f"sqlite:///{tmp_path}/other.sqlite3", base_dir=tmp_path)

    assert config["NAME"] == f"{tmp_path}/other.sqlite3"
    assert config["CONN_MAX_AGE"] == 0


# --- yes/no and lists -------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("Yes", True), (" on ", True), ("0", False), ("", False)])
def test_env_bool_reads_yes_and_no(monkeypatch, raw, expected):
    monkeypatch.setenv("SHOP_TEST_FLAG", raw)

    assert env_bool("SHOP_TEST_FLAG", default=not expected) is expected


def test_env_bool_uses_the_default_when_unset(monkeypatch):
    monkeypatch.delenv("SHOP_TEST_FLAG", raising=False)

    assert env_bool("SHOP_TEST_FLAG", default=True) is True


def test_env_bool_refuses_maybe_and_names_the_variable(monkeypatch):
    monkeypatch.setenv("SHOP_TEST_FLAG", "maybe")

    with pytest.raises(ImproperlyConfigured, match=r"SHOP_TEST_FLAG='maybe' is not a yes/no value"):
        env_bool("SHOP_TEST_FLAG", default=False)


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("SHOP_TEST_HOSTS", " a.example, ,b.example ")

    assert env_list("SHOP_TEST_HOSTS", default=[]) == ["a.example", "b.example"]


# --- EMAIL_URL ----------------------------------------------------------------------


def test_email_url_smtp_with_starttls(tmp_path):
    config = email_from_url("smtp+tls://mailer:p%40ss@smtp.example:587", base_dir=tmp_path)

    assert config == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "smtp.example",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "mailer",
        "EMAIL_HOST_PASSWORD": "p@ss",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 20,
    }


def test_email_url_smtps_defaults_to_port_465(tmp_path):
    config = email_from_url("smtps://smtp.example", base_dir=tmp_path)

    assert (config["EMAIL_PORT"], config["EMAIL_USE_SSL"], config["EMAIL_USE_TLS"]) == (465, True, False)


def test_email_url_defaults_to_the_console(tmp_path):
    assert email_from_url(None, base_dir=tmp_path)["EMAIL_BACKEND"].endswith("console.EmailBackend")


def test_email_url_file_backend(tmp_path):
    config = email_from_url(f"file://{tmp_path}/mail", base_dir=tmp_path)

    assert config["EMAIL_BACKEND"].endswith("filebased.EmailBackend")
    assert config["EMAIL_FILE_PATH"] == f"{tmp_path}/mail"


def test_email_url_unknown_scheme_is_refused(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        email_from_url("pigeon://coop", base_dir=tmp_path)


# --- manage.py with a bad environment ---------------------------------------------------


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG", "REDIS_URL"}}
    environ.update(env)
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_manage_py_with_mysql_url_and_no_driver_prints_one_clear_line():
    if importlib.util.find_spec("MySQLdb") is not None:
        pytest.skip("MySQLdb is installed here, so DATABASE_URL=mysql://... is valid")

    result = _manage("check", DATABASE_URL="mysql://x@y/z")

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "pip install mysqlclient" in lines[0]


def test_manage_py_with_a_bad_yes_no_value_names_the_variable():
    result = _manage("check", DEBUG="maybe")

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "DEBUG='maybe'" in result.stderr
