from django.urls import path

from .views import webhook_receive

app_name = "webhooks"

urlpatterns = [
    path("<slug:source_name>/", webhook_receive, name="receive"),
]
