from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User


@admin.register(User)
class PlatformUserAdmin(UserAdmin):
    """Platform operators (users of the public schema); branch staff are managed in the dashboard."""
