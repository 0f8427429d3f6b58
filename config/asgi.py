# Views are kept synchronous: django-tenants keeps the schema on the thread's connection, and
# sync_to_async would run queries on another connection, in the public schema.
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
