"""The clinical dashboard pages, by who uses them: the front desk (search, registration,
profile, follow-ups), the doctor (the record screen, drafts, corrections, break-glass) and the
hospital admin (assignments, break-glass review, audit trail, treatments catalogue). Each module
lists its own ``urlpatterns``; ``clinical/urls.py`` joins them."""
