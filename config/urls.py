from django.conf import settings
from django.urls import include, path
from django.views.i18n import set_language

from shops.admin import admin_site

urlpatterns = [
    path("", include("analytics.urls")),
    path("", include("shops.urls")),
    path("", include("customers.urls")),
    path("", include("customers.integrations.urls")),
    path("", include("campaigns.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/v1/", include("config.api_urls")),
    path("admin/", admin_site.urls),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()

handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
