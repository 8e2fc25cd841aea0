"""Plain Django views for the middleware tests."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path


def whoami(request):
    return HttpResponse(request.user.username if request.user.is_authenticated else "anonymous")


urlpatterns = [
    path("whoami/", whoami),
    path("private/", login_required(whoami)),
]
