"""The clinical dashboard's forms, by who uses them (as ``clinical/views/``)."""
