"""Campaign pages under /campaigns/, and the public links of campaign emails (/u/, /t/)."""

from django.urls import path

from campaigns import views

urlpatterns = [
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<int:campaign_id>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/edit/", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:campaign_id>/preview/", views.campaign_preview, name="campaign_preview"),
    path("campaigns/<int:campaign_id>/preview/html/", views.campaign_preview_html, name="campaign_preview_html"),
    path("campaigns/<int:campaign_id>/test-send/", views.campaign_test_send, name="campaign_test_send"),
    path("campaigns/<int:campaign_id>/schedule/", views.campaign_schedule, name="campaign_schedule"),
    path("campaigns/<int:campaign_id>/cancel/", views.campaign_cancel, name="campaign_cancel"),
    path(
        "campaigns/<int:campaign_id>/results/refresh/", views.campaign_results_refresh, name="campaign_results_refresh"
    ),
    # Public: signed tokens, no login.
    path("u/<str:token>/", views.unsubscribe, name="campaign_unsubscribe"),
    path("t/o/<str:token>.gif", views.open_pixel, name="campaign_open"),
    path("t/c/<str:token>/", views.click, name="campaign_click"),
]
