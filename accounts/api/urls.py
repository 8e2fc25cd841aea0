from django.urls import path

from accounts.api.views import CurrentMembersView, MeView

app_name = "accounts"

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("orgs/current/members/", CurrentMembersView.as_view(), name="organization-members"),
]
