"""How a user is shown to API clients."""

from rest_framework import serializers

from .models import User


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "clerk_id", "email", "username", "first_name", "last_name", "image_url", "date_joined"]
        read_only_fields = fields
