"""The only tags and filters a campaign message may use (the sandbox engine's builtins).

No {% load %}, {% include %}, {% extends %}, {% url %}, {% csrf_token %}, {% debug %} or
{% now %}: a message is text with placeholders, {% if %} and {% for %}, and a few filters
that only reshape text. The context holds plain strings and lists, never model objects.
"""

from django.template import Library, defaultfilters, defaulttags

register = Library()

ALLOWED_TAGS = ("if", "for", "comment")
ALLOWED_FILTERS = (
    "default",
    "upper",
    "lower",
    "title",
    "capfirst",
    "join",
    "first",
    "last",
    "length",
    "slice",
    "truncatewords",
    "truncatechars",
    "floatformat",
)

for _name in ALLOWED_TAGS:
    register.tags[_name] = defaulttags.register.tags[_name]
for _name in ALLOWED_FILTERS:
    register.filters[_name] = defaultfilters.register.filters[_name]
