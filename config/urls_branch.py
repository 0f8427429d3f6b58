"""URLs of a branch's host (`<slug>.<BASE_DOMAIN>`)."""

from django.urls import include, path, re_path

from config.api import branch_api
from config.views import api_not_found
from scheduling.views.desk import home

urlpatterns = [
    path("api/", branch_api.urls),
    re_path(r"^api(/.*)?$", api_not_found),
    path("", home, name="home"),
    path("", include("accounts.urls")),
    path("", include("clinical.urls")),
    path("", include("scheduling.views")),
    path("", include("portal.views")),
]

handler403 = "accounts.views.forbidden"
handler404 = "accounts.views.not_found"
