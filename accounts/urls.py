from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.logout_view, name="logout"),
    path("accounts/keepalive/", views.keepalive, name="keepalive"),
    path("accounts/session/", views.session_status, name="session_status"),
    path("accounts/password-reset/", views.password_reset, name="password_reset"),
    path("accounts/set-password/<uidb64>/<token>/", views.set_password, name="set_password"),
    path("accounts/me/", views.account, name="account"),
    path("staff/", views.staff_index, name="staff_list"),
    path("staff/<int:user_id>/role/", views.staff_role, name="staff_role"),
    path("staff/<int:user_id>/active/", views.staff_active, name="staff_active"),
    path("security-log/", views.security_log, name="security_log"),
]
