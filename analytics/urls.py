"""The shop owner's pages of the analytics app (dashboard, segments, customers, rules, forecasts, runs)."""

from django.urls import path

from analytics import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("demo-data/", views.demo_data_load, name="demo_data_load"),
    path("demo-data/status/", views.demo_data_status, name="demo_data_status"),
    path("analysis/", views.analysis, name="analysis"),
    path("analysis/run/", views.analysis_run_start, name="analysis_run_start"),
    path("analysis/runs/<int:run_id>/progress/", views.analysis_run_progress, name="analysis_run_progress"),
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/new/", views.segment_builder, name="segment_builder"),
    path("segments/new/count/", views.segment_builder_count, name="segment_builder_count"),
    path("segments/<int:segment_id>/", views.segment_detail, name="segment_detail"),
    path("segments/<int:segment_id>/export.csv", views.segment_export, name="segment_export"),
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/<int:customer_id>/", views.customer_detail, name="customer_detail"),
    path("customers/<int:customer_id>/export/", views.customer_export, name="customer_export"),
    path("customers/<int:customer_id>/erase/", views.customer_erase, name="customer_erase"),
    path("rules/", views.rule_list, name="rule_list"),
    path("forecasts/", views.forecast_list, name="forecast_list"),
]
