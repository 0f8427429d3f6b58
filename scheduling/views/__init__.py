from scheduling.views import admin, desk, queue

app_name = "scheduling"
urlpatterns = [*desk.urlpatterns, *admin.urlpatterns, *queue.urlpatterns]
