"""/data/: the shop's data page, platform connections and privacy exports (imports live under /data/import/)."""

from django.urls import path

from customers import views

urlpatterns = [
    path("", views.data_overview, name="data_overview"),
    path("connections/<str:platform>/", views.connection_edit, name="data_connection"),
    path("connections/<str:platform>/sync/", views.connection_sync, name="data_connection_sync"),
    path("connections/<str:platform>/delete/", views.connection_delete, name="data_connection_delete"),
    path("requests/<int:event_id>/export/", views.data_request_export, name="data_request_export"),
]
