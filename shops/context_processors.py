from shops.selectors import shops_for_user


def current_shop(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"current_shop": None, "my_shops": []}
    return {
        "current_shop": getattr(request, "shop", None),
        "current_membership": getattr(request, "membership", None),
        "my_shops": list(shops_for_user(user=user)),
    }
