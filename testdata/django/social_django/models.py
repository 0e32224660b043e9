"""A stand-in for python-social-auth's social_django.UserSocialAuth (Debian does not package it):
the same app label, table and the fields authd reads."""
from django.conf import settings
from django.db import models


class UserSocialAuth(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="social_auth", on_delete=models.CASCADE)
    provider = models.CharField(max_length=32)
    uid = models.CharField(max_length=255, db_index=True)
    extra_data = models.JSONField(default=dict)

    class Meta:
        db_table = "social_auth_usersocialauth"
        unique_together = ("provider", "uid")
