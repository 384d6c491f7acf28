"""Small readers for environment variables; used only by settings.

Each reader turns a bad value into ImproperlyConfigured with a message that names
the variable, so a typo gives one clear line instead of a stack trace deep inside Django.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# URL scheme -> (Python module the driver needs, pip package that provides it)
_DB_DRIVERS = {
    "postgres": ("psycopg", "psycopg[binary]"),
    "postgresql": ("psycopg", "psycopg[binary]"),
    "pgsql": ("psycopg", "psycopg[binary]"),
    "mysql": ("MySQLdb", "mysqlclient"),
    "sqlite": ("sqlite3", "(part of Python)"),
}


def env_bool(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a yes/no value; use 1/0, true/false or yes/no.")


def env_int(name: str, *, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} is too small; the least is {minimum}.")
    return value


def env_list(name: str, *, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_from_url(url: str | None, *, base_dir: Path) -> dict:
    """Django DATABASES entry from DATABASE_URL; SQLite file in base_dir when unset.

    Refuses an unknown scheme or a driver that is not installed, naming the package to install.
    """
    if not url:
        config = {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(base_dir / "db.sqlite3"),
        }
    else:
        scheme = urlparse(url).scheme.split("+")[0]
        if scheme not in _DB_DRIVERS:
            raise ImproperlyConfigured(
                f"DATABASE_URL uses the scheme {scheme!r}, which is not supported; "
                "use postgres://user@host:5432/name or sqlite:///path/to/file.sqlite3."
            )
        module, package = _DB_DRIVERS[scheme]
        if importlib.util.find_spec(module) is None:
            raise ImproperlyConfigured(
                f"DATABASE_URL points to {scheme}, but its driver ({module}) is not installed; "
                f"install it with: pip install {package}"
            )
        try:
            config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
        except ValueError as exc:
            raise ImproperlyConfigured(f"DATABASE_URL could not be read: {exc}") from exc
    if config["ENGINE"].endswith("sqlite3"):
        config["CONN_MAX_AGE"] = 0
        config.setdefault("OPTIONS", {})
        # WAL lets the web server read while the worker writes; IMMEDIATE avoids
        # "database is locked" on upgrade from a read to a write lock.
        config["OPTIONS"].update(
            {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            }
        )
        # A file, not :memory:, so a worker process in the tests sees the test database;
        # per process, so two test runs on one machine do not share it.
        name = Path(config["NAME"])
        config["TEST"] = {"NAME": str(name.with_name(f"test_{os.getpid()}_{name.name}"))}
    else:
        config["TEST"] = {"NAME": f"test_{config['NAME']}_{os.getpid()}"}
    return config


def email_from_url(url: str | None, *, base_dir: Path) -> dict:
    """Email settings from EMAIL_URL; console backend when unset."""
    if not url:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme == "file":
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": parsed.path or str(base_dir / "mail"),
        }
    if scheme == "locmem":
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if scheme not in {"smtp", "smtp+tls", "smtps"}:
        raise ImproperlyConfigured(
            f"EMAIL_URL uses the scheme {scheme!r}; use smtp://, smtp+tls://, smtps://, console:// or file://."
        )
    query = parse_qs(parsed.query)
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parsed.hostname or "localhost",
        "EMAIL_PORT": parsed.port or (465 if scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parsed.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
        "EMAIL_USE_TLS": scheme == "smtp+tls" or query.get("tls", ["0"])[0] in _TRUE,
        "EMAIL_USE_SSL": scheme == "smtps",
        "EMAIL_TIMEOUT": 20,
    }
