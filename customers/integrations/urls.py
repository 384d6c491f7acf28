"""Public endpoints: platform webhooks (signed) and the preference survey."""

urlpatterns: list = []
