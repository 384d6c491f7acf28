from django.contrib import admin

from campaigns.models import Campaign, Recipient, Suppression


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "shop", "status", "scheduled_at", "started_at", "finished_at"]
    list_filter = ["shop", "status"]
    search_fields = ["name"]
    raw_id_fields = ["segment", "created_by"]


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    list_display = ["email", "campaign", "status", "reason", "sent_at", "opened_at", "clicked_at"]
    list_filter = ["status", "reason", "shop"]
    search_fields = ["email", "message_id"]
    raw_id_fields = ["campaign", "customer", "converted_order"]


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["email", "shop", "reason", "created_at"]
    list_filter = ["shop", "reason"]
    search_fields = ["email"]
