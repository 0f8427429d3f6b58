"""Settings, read from the environment in one place (see README: Configuration).

Profiles (``HOSPITAL_ENV``): ``local`` (what ``manage.py up`` uses), ``test`` and
``production`` (every secret required, ``check --deploy`` clean, demo seed refused).
"""

from __future__ import annotations

import secrets
import sys
import warnings
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
import phonenumbers
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config import embedded, env
from config.storages import s3_storages

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = embedded.LOCAL

# Under pytest the profile is `test` unless set: pytest-django reads these settings before any
# conftest could set the variable.
HOSPITAL_ENV = env.get("HOSPITAL_ENV") or ("test" if "pytest" in sys.modules else "local")
if HOSPITAL_ENV not in {"local", "test", "production"}:
    raise ImproperlyConfigured(f"HOSPITAL_ENV must be local, test or production, not {HOSPITAL_ENV!r}")
PRODUCTION = HOSPITAL_ENV == "production"
# Type checking imports these settings too (django-stubs) and exits without running atexit
# handlers: it must neither start servers it would leave running nor connect to any.
_TYPE_CHECKING_ONLY = "mypy" in sys.modules
DEBUG = env.flag("DEBUG", default=False)


def _local_secret_key() -> str:
    """A key kept under .local/ so that sessions survive a restart of ``up``."""
    path = LOCAL_DIR / "secret_key"
    if not path.exists():
        LOCAL_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.require("SECRET_KEY") if PRODUCTION else (env.get("SECRET_KEY") or _local_secret_key())

# --- hosts --------------------------------------------------------------------------------------
# Every branch is reached at <slug>.<BASE_DOMAIN>; the platform operators at BASE_DOMAIN itself.
BASE_DOMAIN = env.get("BASE_DOMAIN", "localhost")
# Data residency: a deployment limited to these countries (ISO 3166 codes) onboards no branch
# elsewhere; empty, any country. A group with branches in several countries runs one deployment
# per country (docs/deploy.md).
ALLOWED_COUNTRIES = [code.upper() for code in env.listing("ALLOWED_COUNTRIES", [])]
_unknown_countries = [code for code in ALLOWED_COUNTRIES if code not in phonenumbers.SUPPORTED_REGIONS]
if _unknown_countries:
    raise ImproperlyConfigured(f"ALLOWED_COUNTRIES names unknown country codes: {', '.join(_unknown_countries)}")
PUBLIC_HOST = env.get("PUBLIC_HOST", BASE_DOMAIN)
ALLOWED_HOSTS = env.listing("ALLOWED_HOSTS", [BASE_DOMAIN, f".{BASE_DOMAIN}"])
SITE_SCHEME = env.get("SITE_SCHEME", "https" if PRODUCTION else "http")
SITE_PORT = env.get("SITE_PORT", "" if PRODUCTION else "8000")

# --- applications -------------------------------------------------------------------------------
# Kept in both sets, so that permission and content-type ids stay consistent within a schema.
_BOTH = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "accounts",
    "guardian",
    "django.contrib.sessions",
    "axes",
]
SHARED_APPS = [
    "tenants",  # before django_tenants: its `migrate` also migrates the branch template
    "django_tenants",
    *_BOTH,
    "workers",
    "django.contrib.admin",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "bootstrap",
    "ninja",
]
# Branch only: clinical data never exists in the public schema.
TENANT_APPS = [*_BOTH, "clinical", "scheduling", "portal"]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Hospital"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
# The schema new branches are cloned from; kept at the latest migration by `migrate`.
TENANT_TEMPLATE_SCHEMA = "branch_template"
# Branches migrated at once by `migrate --executor multiprocessing` (the Helm chart's migrate Job).
TENANT_MULTIPROCESSING_MAX_PROCESSES = env.integer("TENANT_MULTIPROCESSING_MAX_PROCESSES", 2)
# django-tenants checks these schemas on start-up, which connects to the database: not while
# type checking, nor while collecting static files (the image's build has no database).
_NO_DATABASE = _TYPE_CHECKING_ONLY or sys.argv[1:2] == ["collectstatic"]
PG_EXTRA_SEARCH_PATHS = [] if _NO_DATABASE else ["extensions"]
# django-tenants checks that schema at start-up with a query; Django warns about any query then.
warnings.filterwarnings("ignore", message="Accessing the database during app initialization", category=RuntimeWarning)
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_branch"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
# Set the search path once per connection and branch, not before every query (it was half of
# the statements of a request). django-tenants clears it on set_tenant, close and rollback, so
# a rolled-back SET is issued again.
TENANT_LIMIT_SET_CALLS = True

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "config.middleware.HealthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files need no branch: served before the host is looked up.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.middleware.BranchMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.BranchLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.dashboard",
            ],
        },
    },
]
WSGI_APPLICATION = "config.wsgi.application"

# --- database -----------------------------------------------------------------------------------
DATABASE_URL = (env.require("DATABASE_URL") if PRODUCTION else env.get("DATABASE_URL")) or (
    "postgres://postgres@localhost/hospital" if _TYPE_CHECKING_ONLY else embedded.postgres_url()
)
DATABASES = {
    "default": {
        **dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True),
        "ENGINE": "django_tenants.postgresql_backend",
    }
}
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
# Set where a process connects as the database's owner (migrations, the operators' host that
# onboards branches): the role the web and worker processes use, granted its rights in every
# schema made (tenants.db_roles). Empty: one role does everything (one machine).
DATABASE_APP_ROLE = env.get("DATABASE_APP_ROLE", "") or ""
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis, cache, celery -----------------------------------------------------------------------
# Tests use their own Redis databases, so a test worker never takes a task of a running `up`.
REDIS_URL = (env.require("REDIS_URL") if PRODUCTION else env.get("REDIS_URL")) or (
    "redis://localhost:6379/0" if _TYPE_CHECKING_ONLY else embedded.redis_url(db=2 if HOSPITAL_ENV == "test" else 0)
)


def _next_database(url: str) -> str:
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    if db >= 15:
        raise ImproperlyConfigured(f"REDIS_URL uses database {db}: set CACHE_URL to a database for the cache")
    return urlunsplit(parts._replace(path=f"/{db + 1}"))


# The cache has a database of its own: clearing it must never touch queued tasks.
CACHE_URL = env.get("CACHE_URL") or _next_database(REDIS_URL)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": CACHE_URL,
        # Keys carry the branch's schema, so no branch reads another's cache.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": 2,
            "SOCKET_TIMEOUT": 2,
            # The cache is an optimisation: writes keep working while Redis is down.
            "IGNORE_EXCEPTIONS": True,
        },
    }
}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task running when the connection to Redis drops finishes and commits: its message comes back
# only after the visibility timeout, and the task then finds its work done. Cancelling it (Celery
# 6's default) could stop a reminder after the SMS gateway took it and before it was marked sent.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Workers log through LOGGING like the web, so each line names the branch and the task's id.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery closes Django's connections around every task unless told to reuse them, and a new
# PostgreSQL backend per task costs more than a reminder's own work. Reused, they are kept or
# closed by Django's own rules (CONN_MAX_AGE, health checks) around each task (workers/celery.py).
CELERY_DB_REUSE_MAX = 1000
# Each worker process keeps the branch's row it reads before a task this long: a change to a
# branch's settings (reminder hours, logo) reaches the workers within it.
CELERY_TASK_TENANT_CACHE_SECONDS = 30
# No task may run longer than this (a PDF takes about a second); far below the visibility
# timeout, so a message is never handed to a second worker while the first still works on it.
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_timeout": 3,
    "socket_connect_timeout": 3,
}
# PDFs render on a queue of their own, so a burst of prescriptions never holds up e-mails; the
# pdf worker's processes are recycled sooner (WeasyPrint's memory grows with fonts and pages).
CELERY_TASK_ROUTES = {"clinical.render_prescription": {"queue": "pdf"}}
# Replacing a pool process stalls the queue for a second or more: it is done for growth
# (memory) rather than after a few tasks.
PDF_WORKER_MAX_TASKS_PER_CHILD = 1000
PDF_WORKER_MAX_MEMORY_PER_CHILD = 400_000  # KiB
CELERY_WORKER_MAX_TASKS_PER_CHILD = 500
CELERY_WORKER_MAX_MEMORY_PER_CHILD = 300_000  # KiB
CELERY_BEAT_SCHEDULE_FILENAME = env.get("CELERY_BEAT_SCHEDULE_FILENAME", str(LOCAL_DIR / "celerybeat-schedule"))
# Beat wakes at least this often, and touches its heartbeat file each time (workers.beat).
CELERY_BEAT_MAX_LOOP_INTERVAL = 30
# Periodic work for every branch goes through workers.fan_out, which staggers it over the branches.
# No period is longer than an hour: a beat that starts afresh (a new pod, its schedule file on a
# volume that went with the old one) waits a whole period before an entry's first run, and
# rollouts come more often than every six hours.
# How often every branch is scanned for reminders that are due (a reminder goes out at most this late).
REMINDER_SCAN_SECONDS = env.integer("REMINDER_SCAN_SECONDS", 300)
CELERY_BEAT_SCHEDULE = {
    "purge-expired-api-tokens": {
        "task": "workers.fan_out",
        "schedule": 60 * 60,
        "args": ["accounts.purge_expired_tokens"],
    },
    "purge-expired-sessions": {
        "task": "workers.fan_out",
        "schedule": 60 * 60,
        "args": ["accounts.purge_expired_sessions"],
    },
    "appointment-reminders": {
        "task": "workers.fan_out",
        "schedule": REMINDER_SCAN_SECONDS,
        "args": ["scheduling.reminders_scan"],
    },
    "purge-idempotency-keys": {
        "task": "workers.fan_out",
        "schedule": 60 * 60,
        "args": ["scheduling.purge_idempotency_keys"],
    },
}
# Seconds over which a periodic job is spread across branches.
BRANCH_FAN_OUT_SPREAD = env.integer("BRANCH_FAN_OUT_SPREAD", 60)
OUTBOX_RELAY_INTERVAL = 1.0
# How long a portal invitation's one-time link works.
PORTAL_INVITE_HOURS = env.integer("PORTAL_INVITE_HOURS", 72)

# --- accounts, sessions, lockout ----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.UsernameOrEmailBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False


def password_hashers(profile: str) -> list[str]:
    # Tests hash thousands of passwords; everywhere else Argon2 it is.
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"] if profile == "test" else []
    return [
        *fast,
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


PASSWORD_HASHERS = password_hashers(HOSPITAL_ENV)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_NAME = "hospital_session"
# Idle sessions end after this many minutes without something the user did.
SESSION_IDLE_MINUTES = env.integer("SESSION_IDLE_MINUTES", 15)
SESSION_COOKIE_AGE = 60 * 60 * 12

AXES_FAILURE_LIMIT = env.integer("LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env.integer("LOCKOUT_MINUTES", 15))
# A hospital's desks share one address: lock the (username, address) pair, never the address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Sign-ins are recorded once, in accounts.SecurityEvent; axes keeps only its failure counters.
AXES_DISABLE_ACCESS_LOG = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_VERBOSE = False
# How many proxies of ours stand in front of the app (their X-Forwarded-For is trusted).
TRUSTED_PROXY_COUNT = env.integer("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "accounts.addresses.client_address"
# Usernames are compared lower-cased (accounts.backends), so lockout counts them that way too.
AXES_USERNAME_CALLABLE = "accounts.backends.lockout_username"

API_ACCESS_TOKEN_MINUTES = env.integer("API_ACCESS_TOKEN_MINUTES", 15)
API_REFRESH_TOKEN_DAYS = env.integer("API_REFRESH_TOKEN_DAYS", 30)

# --- languages ----------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("ar", _("Arabic")),
    ("hi", _("Hindi")),
    ("fr", _("French")),
    ("es", _("Spanish")),
]
LANGUAGES_BIDI = ["ar", "he", "fa", "ur"]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

# --- static and media ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.get("STATIC_ROOT", str(LOCAL_DIR / "static")))
# Locally, static files are served straight from the packages; production runs collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Tests (and the workers they start) keep their files apart, emptied at each run (tests/conftest.py).
MEDIA_ROOT = Path(env.get("MEDIA_ROOT", str(LOCAL_DIR / ("test-media" if HOSPITAL_ENV == "test" else "media"))))
MEDIA_URL = "/media/"  # never served publicly; private files go through permission-checking views
STORAGES = {
    # One folder per branch's schema: no file crosses branches.
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    # Files of the platform itself (branch logos), whatever branch a request is in.
    "platform": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT / "platform"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
# An S3-compatible bucket instead (AWS S3, MinIO, Ceph...): one key prefix per branch, and
# "platform/" for the platform's files. Keys come from S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY
# (or their _FILE), else from boto3's own chain (AWS_* variables, an instance or pod role).
S3_BUCKET = env.get("S3_BUCKET")
if S3_BUCKET:
    STORAGES.update(
        s3_storages(
            bucket=S3_BUCKET,
            endpoint_url=env.get("S3_ENDPOINT_URL"),
            region=env.get("S3_REGION"),
            addressing_style=env.get("S3_ADDRESSING_STYLE"),
            access_key=env.get("S3_ACCESS_KEY_ID"),
            secret_key=env.get("S3_SECRET_ACCESS_KEY"),
            prefix=env.get("S3_PREFIX") or "",
        )
    )

# --- text messages ------------------------------------------------------------------------------
# A provider's backend subclasses core.sms.SmsBackend; the default writes messages to a file.
SMS_BACKEND = env.get("SMS_BACKEND", "core.sms.FileBackend")
SMS_FILE_PATH = env.get("SMS_FILE_PATH", str(LOCAL_DIR / "sms" / "messages.jsonl"))

# --- e-mail ------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.get("DEFAULT_FROM_EMAIL", "hospital@localhost")
EMAIL_HOST = env.get("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env.integer("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env.flag("EMAIL_USE_TLS", default=True)
    EMAIL_TIMEOUT = 20
elif PRODUCTION:
    raise ImproperlyConfigured("EMAIL_HOST must be set in production")
else:
    # Locally, e-mails land as files under .local/mail so their links can be followed.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = env.get("EMAIL_FILE_PATH", str(LOCAL_DIR / "mail"))

# --- security ----------------------------------------------------------------------------------
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send X-CSRFToken
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.flag("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
# No CSRF_TRUSTED_ORIGINS: every form posts to its own branch's host, and trusting
# *.BASE_DOMAIN would let one branch's page post into another.

# --- logging -----------------------------------------------------------------------------------
LOG_LEVEL = env.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.logging.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(branch)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s [%(branch)s %(request_id)s] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "json" if PRODUCTION or env.flag("LOG_JSON") else "text",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # WeasyPrint logs each rendering step at INFO; fontTools each font subset.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
