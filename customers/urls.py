"""Shop pages of the customers app. Import pages and data/integration pages live in their own modules."""

from django.urls import include, path

from customers import merge_views

urlpatterns = [
    path("data/import/", include("customers.importers.urls")),
    path("data/duplicates/", merge_views.duplicate_list, name="data_duplicates"),
    path("customers/<int:customer_id>/merge/", merge_views.customer_merge, name="customer_merge"),
    path("customers/merges/<int:merge_id>/undo/", merge_views.customer_merge_undo, name="customer_merge_undo"),
    path("data/", include("customers.data_urls")),
]
