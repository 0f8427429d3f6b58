from clinical.views import admin, doctor, frontdesk

app_name = "clinical"

urlpatterns = [*frontdesk.urlpatterns, *doctor.urlpatterns, *admin.urlpatterns]
