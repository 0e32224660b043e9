from django.apps import AppConfig


class SocialDjangoConfig(AppConfig):
    name = "social_django"
    label = "social_django"
