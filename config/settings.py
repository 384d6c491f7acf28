"""Settings, all from environment variables with safe defaults for the demo.

DATABASE_URL  default: SQLite file var/db.sqlite3 (WAL mode)
REDIS_URL     Celery broker; when unset, a filesystem transport in var/celery/ that
              needs no server (a real worker process still runs the jobs)
SECRET_KEY    default: generated once and kept in var/secret_key
DEBUG         default: off
ALLOWED_HOSTS comma-separated, default: localhost,127.0.0.1,[::1]
EMAIL_URL     smtp://user:pass@host:port (smtp+tls://, smtps://), console:// or file:///path
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from config.env import database_from_url, email_from_url, env_bool, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", default=False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base for links in emails (unsubscribe, tracking), e.g. https://shop-insights.example
SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "shops.admin_config.ShopsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "csp",
    "shops",
    "customers",
    "analytics",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "shops.middleware.ShopGateMiddleware",
    # Last, as django-axes asks: turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "shops.context_processors.current_shop",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL"), base_dir=VAR_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "shops.auth.EmailOrUsernameBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"

# Email
_email = email_from_url(os.environ.get("EMAIL_URL"), base_dir=VAR_DIR)
EMAIL_BACKEND = _email.pop("EMAIL_BACKEND")
for _name, _value in _email.items():
    globals()[_name] = _value
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Shop Insights <no-reply@localhost>")

# Celery
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    _celery_dir = VAR_DIR / "celery"
    for _sub in ("out", "processed", "control"):
        (_celery_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "out"),
        "data_folder_out": str(_celery_dir / "out"),
        "processed_folder": str(_celery_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_celery_dir / "control"),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 30
CELERY_TASK_SOFT_TIME_LIMIT = 60 * 25
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Periodic work; run exactly one `celery -A config beat`.
CELERY_BEAT_SCHEDULE: dict = {
    "sync-platform-connections": {"task": "customers.sync_all_connections", "schedule": 15 * 60},
    "campaigns-due-scan": {"task": "campaigns.due_scan", "schedule": 60, "options": {"expires": 55}},
    "campaigns-refresh-attribution": {"task": "campaigns.refresh_attribution", "schedule": 15 * 60},
    "nightly-analysis": {"task": "analytics.nightly_analysis", "schedule": crontab(hour=3, minute=0)},
    # Merges can be undone for 30 days; then the removed customer's data in the record goes.
    "expire-merge-records": {"task": "customers.expire_merge_records", "schedule": crontab(hour=2, minute=30)},
    # Stored webhook payloads, uploaded files and idempotency answers past DATA_RETENTION_DAYS go.
    "expire-stored-data": {"task": "customers.expire_stored_data", "schedule": crontab(hour=2, minute=45)},
    # Audit log events past AUDIT_RETENTION_DAYS go.
    "expire-audit-events": {"task": "shops.expire_audit_events", "schedule": crontab(hour=2, minute=15)},
}

# Outbound platform pulls refuse private / loopback addresses unless this is on (tests).
INTEGRATIONS_ALLOW_LOCAL_URLS = env_bool("INTEGRATIONS_ALLOW_LOCAL_URLS", default=False)

# Days that webhook payloads, uploaded import files and idempotency answers are kept (ADR 0010).
DATA_RETENTION_DAYS = env_int("DATA_RETENTION_DAYS", default=30, minimum=1)
# Days that the shop's audit log keeps an event (a year, as issue 14 asks).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", default=365, minimum=1)

if REDIS_URL:
    # Shared by every web process, so rate limits (survey) hold across gunicorn workers.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
# A full bulk-API batch (1,000 orders with their lines) fits.
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

# Customers created by the "Load demo data" button (the Makefile's DEMO_CUSTOMERS too).
DEMO_CUSTOMERS = int(os.environ.get("DEMO_CUSTOMERS", "3000"))
# Number formats per language (Django's zh_Hans has no thousands separator).
FORMAT_MODULE_PATH = ["config.formats"]
USE_THOUSAND_SEPARATOR = True

# Start an analysis run after every import, sync or demo load (tests switch it off).
ANALYTICS_AUTORUN = env_bool("ANALYTICS_AUTORUN", default=True)

# REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "shops.api_auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["shops.api_auth.IsShopMember"],
    "EXCEPTION_HANDLER": "shops.api_parsers.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "shops.api_parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Shop Insights API",
    "DESCRIPTION": "Customers, orders, segments and campaigns of one shop. "
    "Authenticate with `Authorization: Bearer <api key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per choice set (`manage.py check --deploy` warns about a clash of field names).
    "ENUM_NAME_OVERRIDES": {
        "SourceEnum": "customers.models.Source",
        "OrderStatusEnum": "customers.models.OrderStatus",
        "SegmentKindEnum": "analytics.models.SegmentKind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "shops.api_schema.add_error_answers",
    ],
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Security baseline (docs/operations.md, "Security"). SECURE_COOKIES=1 means production over
# HTTPS: plain HTTP is redirected and browsers are told to use HTTPS only (HSTS).
SECURE_SSL_REDIRECT = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600) if SESSION_COOKIE_SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SESSION_COOKIE_SECURE
# The preload list binds the whole domain for months and is hard to leave: the operator's call.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = ["security.W021"]  # "preload is off": deliberate, see above
# Reverse proxies in front of gunicorn that append to X-Forwarded-For and set X-Forwarded-Proto.
# Production runs behind one TLS proxy (README), so one by default there; 0 trusts neither header.
PROXY_COUNT = env_int("PROXY_COUNT", default=1 if SESSION_COOKIE_SECURE else 0)
if PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Login throttling (django-axes): a login is refused for LOGIN_LOCKOUT_MINUTES after
# LOGIN_FAILURE_LIMIT failures for one account, or from one address; the lockout always ends.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", default=5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", default=15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Failures during a lockout do not extend it, so nobody can keep an account locked for ever.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_CALLABLE = "shops.auth.login_username"
AXES_CLIENT_IP_CALLABLE = "shops.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "shops.views.login_locked_out"
# Keep only the failed attempts (they expire with the lockout), not a row per successful login.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # no start-up line on every command; lockouts are still logged

# Content-Security-Policy: scripts and styles only from our own static files (no inline
# script, no inline style), nothing loaded from elsewhere, no framing. The few views that
# differ say so with a decorator (docs/operations.md lists them).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
