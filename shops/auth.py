from django.contrib.auth.backends import ModelBackend


def normalize_login(username: str | None) -> str | None:
    """The account name a login form's "Email" field means: trimmed and lower-cased."""
    return username.strip().lower() if username else username


class EmailOrUsernameBackend(ModelBackend):
    """Log in with the email address (stored lower-case as the username) in any case."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        return super().authenticate(request, username=normalize_login(username), password=password, **kwargs)


def login_username(request, credentials: dict | None) -> str | None:
    """The account django-axes counts a login attempt against (AXES_USERNAME_CALLABLE).

    Normalised like the backend does, so " Owner@Shop.example" and "owner@shop.example" are one
    account to the throttle as they are to the login.
    """
    raw = (credentials or {}).get("username")
    if raw is None and request is not None:
        raw = request.POST.get("username")
    return normalize_login(raw)
