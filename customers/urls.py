"""Shop pages of the customers app. Import pages and data/integration pages live in their own modules."""

from django.urls import include, path

urlpatterns = [
    path("data/import/", include("customers.importers.urls")),
    path("data/", include("customers.data_urls")),
]
