"""One settings module, configured from environment variables.

With nothing set it runs on an embedded default that needs no server: SQLite under ``var/`` and
Celery on kombu's filesystem transport. ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL
and Redis (broker, results and cache). ``DEBUG=false`` turns on the production hardening that
``manage.py check --deploy`` asks for.
"""

import datetime as dt
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
DEVELOPMENT_SECRET_KEY = "insecure-development-key-only-for-the-embedded-default-0123456789"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY or SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    if not DEBUG:
        # Sessions, password-reset links and signed values would be forgeable with a known key.
        raise ImproperlyConfigured("SECRET_KEY must be set to a long random string when DEBUG is false.")
    SECRET_KEY = DEVELOPMENT_SECRET_KEY
# How many reverse proxies in front of the app append to X-Forwarded-For: the client address is
# the one the outermost of them saw. 0 (no proxy): the socket's address, whatever headers say.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base of links in notifications (staff e-mails link to the patient in the app).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "audit",
    "registry",
    "dashboard",
    "reporting",
    "api",
    "fhir_api",
    "tasks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.NoStoreMiddleware",
    "config.middleware.RejectNulCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "accounts.middleware.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last: turns a log-in refused for a lockout into its 429 page or JSON (accounts/lockout.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context_processors.dashboard",
            ],
        },
    },
]

VAR_DIR.mkdir(parents=True, exist_ok=True)
# SQLite (web, worker and beat share one file): a transaction takes the write lock when it begins
# (IMMEDIATE), so a second writer waits up to the timeout; a deferred one that read first would be
# refused at once with "database is locked". WAL lets readers go on while one writes.
SQLITE_OPTIONS = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
}
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'itb.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Behind PgBouncer in transaction pooling (docs/deployment.md): nothing may outlive a transaction on
# its server connection (cursors, prepared statements).
DATABASE_POOLED = env.bool("DATABASE_POOLED", default=False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Django's backend with a health check that asks the socket, not the server (config/postgres).
    DATABASES["default"]["ENGINE"] = "config.postgres"
    # No JIT: it spent longer compiling the worklist's short queries than running them (docs/decisions.md).
    if DATABASE_POOLED:
        # Behind PgBouncer in transaction pooling (docs/deployment.md): consecutive transactions
        # may run on different server connections, so no cursor may outlive its transaction, and
        # the pooler refuses per-connection options (the server is started with jit=off instead).
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    else:
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
else:
    DATABASES["default"].setdefault("OPTIONS", {}).update(SQLITE_OPTIONS)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
# Timestamps are stored in UTC; clinical dates are computed in each site's own zone.
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Log-in protection, tokens, password reset (accounts/, docs/security.md) ------------------
AUTHENTICATION_BACKENDS = [
    # django-axes first: refuses a locked-out account or client before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    # Django's, reading the session's user, role and the data version in one statement.
    "accounts.backends.ModelBackend",
]
# Failed log-ins (dashboard, admin, token endpoint) before the account, and separately the client
# address, is locked out for LOGIN_LOCKOUT_MINUTES; a successful log-in resets the count.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_VERBOSE = False
# The issuer name authenticator apps show next to the code (accounts/two_factor.py).
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="ITB registry")
# API tokens expire this long after they were issued (accounts/tokens.py).
API_TOKEN_LIFETIME_HOURS = env.int("API_TOKEN_LIFETIME_HOURS", default=12)
# Password-reset links are valid this long.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=3600)

# Content-Security-Policy on every response (django-csp): scripts, styles and everything else from
# this origin only, no inline script or style; the charts are server-drawn SVG and htmx is served
# by the app (docs/security.md).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# --- Cache and Celery ------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": REDIS_URL}}
    # Sessions read from Redis, written through to the database. Only with a shared cache: a
    # per-process cache would keep a logged-out session alive in the other processes.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
    CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None) or None

if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery-queue"
    (_queue_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_queue_dir / "processed"),
        # The exchange tables too, so that nothing of the broker's lands outside var/.
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
else:
    # A reminder task is never an ETA task (docs/decisions.md), so one hour of visibility is plenty.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}

CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_RESULT_EXPIRES = 3600

# --- E-mail ----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="itb-registry@localhost")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# Pluggable SMS channel for family reminders (dotted path to a class with send(message)).
SMS_BACKEND = env.str("SMS_BACKEND", default="tasks.channels.ConsoleSMSBackend")

# --- Reminder delivery (registry.services.reminders, tasks.tasks.deliver) -------------------
# Queue of the delivery tasks; tries per reminder before it is marked failed; first retry delay
# (doubled each time, capped at 15 minutes); how long a row may stay "sending" before the sweep
# takes it back (well above EMAIL_TIMEOUT); how long a "pending" row may wait in the queue before
# the sweep queues it again (the queue is only a carrier: the database is the truth).
REMINDER_QUEUE = env.str("REMINDER_QUEUE", default="celery")
REMINDER_MAX_ATTEMPTS = env.int("REMINDER_MAX_ATTEMPTS", default=5)
REMINDER_RETRY_BACKOFF_SECONDS = env.float("REMINDER_RETRY_BACKOFF_SECONDS", default=60.0)
# Research exports: every combination of quasi-identifiers is shared by at least this many patients.
RESEARCH_EXPORT_K = env.int("RESEARCH_EXPORT_K", default=5)
REMINDER_SENDING_TIMEOUT_SECONDS = env.int("REMINDER_SENDING_TIMEOUT_SECONDS", default=900)
REMINDER_REQUEUE_AFTER_SECONDS = env.int("REMINDER_REQUEUE_AFTER_SECONDS", default=900)

# --- REST framework --------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an anonymous request then gets 401 with "WWW-Authenticate: Token", not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.tokens.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONBodyParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Proxies in front of the app that append to X-Forwarded-For; 0: the client is REMOTE_ADDR.
    # A header a client can send never decides whose throttle counter a request counts against.
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "api.schema.RegistryAutoSchema",
    # Service ValidationErrors become 400 field errors and database races 409, in one place.
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token": env.str("TOKEN_THROTTLE_RATE", default="20/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ITB program registry API",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {
        "PatientStatusEnum": "registry.models.PatientStatus",
        "AshworthScoreEnum": "registry.models.AshworthScore",
        "FollowUpStatusEnum": "registry.models.FollowUp.Status",
        "ReminderStatusEnum": "registry.models.Reminder.Status",
    },
}

# --- FHIR interface (fhir_api) ---------------------------------------------------------------
# Base of the registry's own code systems, extensions and MRN identifier systems: set it to the
# program's stable URL so the codes stay the same wherever the server moves.
FHIR_CANONICAL_BASE = env.str("FHIR_CANONICAL_BASE", default=f"{SITE_URL}/fhir").rstrip("/")
# Where bulk exports write their NDJSON files, how long they are kept, and the queue of their task.
FHIR_EXPORT_DIR = Path(env.str("FHIR_EXPORT_DIR", default=str(VAR_DIR / "fhir-exports")))
FHIR_EXPORT_RETENTION_HOURS = env.int("FHIR_EXPORT_RETENTION_HOURS", default=24)
FHIR_EXPORT_QUEUE = env.str("FHIR_EXPORT_QUEUE", default="celery")
# A booked follow-up has a start time but no length in the registry; FHIR needs an end.
FHIR_VISIT_MINUTES = env.int("FHIR_VISIT_MINUTES", default=30)

# --- Access log (audit/) ---------------------------------------------------------------------
# Who viewed which patient is kept this long, then purged (manage.py purge_access_log, nightly).
ACCESS_LOG_RETENTION_DAYS = env.int("ACCESS_LOG_RETENTION_DAYS", default=3650)

# --- Audit history ---------------------------------------------------------------------------
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint reports each step of every PDF at INFO; its warnings are what an operator needs.
    "loggers": {"weasyprint": {"level": "WARNING"}},
}

# --- Production hardening (DEBUG=false) ------------------------------------------------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
# A session with no request for this long is logged out (accounts/middleware.py); 0: never.
SESSION_IDLE_TIMEOUT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30)
