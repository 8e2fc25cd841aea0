from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

from config.views import healthz, home, readyz

# The admin's "View site" leads to the service's front page; without the app list in a
# sidebar, the changelists get the whole width (the index and breadcrumbs navigate).
admin.site.site_url = "/"
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", home, name="home"),
    path("", include("accounts.ops.urls")),  # /metrics, and the link to Clerk's webhook dashboard
    path("admin/", admin.site.urls),
    path("api/", include("accounts.api.urls")),
    path(
        "api/schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny]),
        name="schema",
    ),
    path("webhooks/", include("webhooks.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]
