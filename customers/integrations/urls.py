"""Public endpoints: platform webhooks (signed) and the preference survey."""

from django.urls import path

from customers import views
from customers.integrations import webhooks

urlpatterns = [
    path("hooks/shopify/<slug:shop_slug>/", webhooks.shopify_webhook, name="shopify_webhook"),
    path("hooks/woocommerce/<slug:shop_slug>/", webhooks.woocommerce_webhook, name="woocommerce_webhook"),
    path("survey/<slug:shop_slug>/", views.survey, name="survey"),
    path("survey/<slug:shop_slug>/embed/", views.survey_embed, name="survey_embed"),
]
