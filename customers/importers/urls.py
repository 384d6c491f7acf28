"""Import pages, mounted at /data/import/."""

from django.urls import path

from customers.importers import views

urlpatterns = [
    path("", views.import_list, name="import_list"),
    path("upload/", views.import_upload, name="import_upload"),
    path("examples/<str:kind>/<str:preset>/", views.import_example, name="import_example"),
    path("<int:job_id>/layout/", views.import_layout, name="import_layout"),
    path("<int:job_id>/preview/", views.import_preview, name="import_preview"),
    path("<int:job_id>/", views.import_job, name="import_job"),
]
