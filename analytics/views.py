from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from customers import selectors as customer_selectors
from shops.decorators import shop_required


@shop_required
def dashboard(request: HttpRequest) -> HttpResponse:
    totals = customer_selectors.shop_totals(shop=request.shop)
    return render(request, "analytics/dashboard.html", {"totals": totals})
