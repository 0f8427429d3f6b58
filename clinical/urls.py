from clinical.views import admin, doctor, frontdesk, prescriptions, verify

app_name = "clinical"

urlpatterns = [
    *frontdesk.urlpatterns,
    *doctor.urlpatterns,
    *admin.urlpatterns,
    *prescriptions.urlpatterns,
    *verify.urlpatterns,
]
