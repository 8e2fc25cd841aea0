from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from config.views import healthz, home, readyz

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
    # The same schema as a page to read and try, Swagger UI's files served from here (no CDN).
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", authentication_classes=[], permission_classes=[AllowAny]),
        name="api-docs",
    ),
    path("webhooks/", include("webhooks.urls")),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]
