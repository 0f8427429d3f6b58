from scheduling.views import admin, desk

app_name = "scheduling"
urlpatterns = [*desk.urlpatterns, *admin.urlpatterns]
