from __future__ import annotations

import pytest

from tests.campaigns.smtp import smtp_server as _smtp_server


@pytest.fixture
def smtp(settings):
    """A real SMTP server, and Django's SMTP backend pointed at it."""
    with _smtp_server() as (handler, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 10
        handler.port = port
        yield handler


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = "https://insights.example"
    settings.DEFAULT_FROM_EMAIL = "Shop Insights <mail@insights.example>"
