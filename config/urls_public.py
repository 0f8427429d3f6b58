"""URLs of the public host (BASE_DOMAIN): the platform operators' API and admin."""

from django.contrib import admin
from django.urls import path, re_path

from config.api import platform_api
from config.views import api_not_found

urlpatterns = [
    path("api/", platform_api.urls),
    re_path(r"^api(/.*)?$", api_not_found),
    path("admin/", admin.site.urls),
]
