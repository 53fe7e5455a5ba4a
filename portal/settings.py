"""One settings module, read from the environment.

Every setting has a safe default for the embedded mode (SQLite, a file-system Celery broker,
console email). DJANGO_ENV=production turns the defaults strict: secrets and hosts must come
from the environment and every cookie is secure.
"""

import base64
import hashlib
import ipaddress
import os
import re
from pathlib import Path

import environ
from celery.schedules import crontab
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"

DEV_SECRET_KEY = "dev-only-insecure-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY") if PRODUCTION else env.str("SECRET_KEY", default=DEV_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
# Never "*": with DEBUG off the host names the links in e-mails (password resets among them).
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else LOOPBACK_HOSTS)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The reverse proxies in front of the portal (addresses or networks): only a connection from
# one of them has its X-Forwarded-For read for the client's address (portal/client_address.py).
# None: the connection's address is the client's, as when the portal faces the clients.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy.strip(), strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_exc}") from None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_filters",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "portal",
    "portal.audit",
    "tenants",
    "tenants.outbox",
    "provisioning",
    "provisioning.inventory",
    "provisioning.first_sign_in",
    "provisioning.scim",
    "provisioning.events",
    "provisioning.api",
    "ninja",
    "provisioning.outbound",
    "provisioning.alerts",
    "sandbox",
    "reports",
]

MIDDLEWARE = [
    "portal.middleware.ClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Beside the other headers' middleware, above CommonMiddleware: the 400 Django answers
    # there to a Host not in ALLOWED_HOSTS goes back through the middleware above it only.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.RequestIdMiddleware",
    "portal.middleware.RefusalAuditMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.head.NotModifiedWithoutLengthMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.PrivateAnswersMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "portal.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "portal.head.HeadAsGetMiddleware",
    "portal.middleware.MethodNotAllowedPageMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # one way to tell a time on every page (portal/templatetags/time_tags.py)
            "builtins": ["portal.templatetags.time_tags"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
                "provisioning.context_processors.waiting",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Whether a commit waits for the disk (fsync): on, but for throwaway databases. The test suite
# turns it off (tests/pytest_env.py): its workers commit every step, and a commit that waits
# for a busy disk costs tens of milliseconds. Off, a crash of the machine (not of the process)
# may lose the last commits; nothing is ever left half-written.
DURABLE_COMMITS = env.bool("DURABLE_COMMITS", default=True)
DATABASE_IDLE_IN_TRANSACTION_S = env.int("DATABASE_IDLE_IN_TRANSACTION_S", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    if not DURABLE_COMMITS:
        DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA synchronous = OFF"
    # A file, not memory, so that the tests' Celery worker processes share the test database.
    # One per test run, so that runs side by side never share a file.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-portal-{os.getpid()}.sqlite3")}
else:
    options = DATABASES["default"].setdefault("OPTIONS", {})
    # PostgreSQL ends a session idle inside a transaction this long, so a worker stalled between
    # two statements (a paused VM, a frozen process) lets go of the rows it locked before its
    # job's lease runs out and another worker takes the job over. No transaction of ours waits
    # on a directory or a person between its statements.
    extra = f"-c idle_in_transaction_session_timeout={DATABASE_IDLE_IN_TRANSACTION_S}s"
    if not DURABLE_COMMITS:
        extra += " -c synchronous_commit=off"
    options["options"] = f"{options.get('options', '')} {extra}".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
# Namespaces our own Redis keys (rate buckets, quarantine windows) per deployment or test run.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="portal")
if REDIS_URL:  # Django's Redis cache, one client kept per pool (portal/cache.py)
    CACHES = {"default": {"BACKEND": "portal.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Licence counts read from the directories for the dashboard (reports/licences.py): written by
# the worker, read by the web, so shared between processes (a file cache without Redis).
CACHES["snapshots"] = {
    "KEY_PREFIX": REDIS_KEY_PREFIX,
    "TIMEOUT": None,  # kept until replaced: the page shows how old a reading is
    **(
        {"BACKEND": "portal.cache.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env.str("SNAPSHOT_CACHE_DIR", default=str(VAR_DIR / "cache" / "snapshots")),
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    ),
}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Argon2 first: a sign-in costs a third of the CPU of PBKDF2's 1,000,000 rounds (docs/demo.md);
# the others still check older hashes, which Django upgrades at the next sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: lock a username + IP pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address behind TRUSTED_PROXIES, as everything else reads it (never django-ipware's guess).
AXES_CLIENT_IP_CALLABLE = "portal.client_address.of_request"
AXES_LOCKOUT_TEMPLATE = "portal/locked_out.html"
AXES_LOCKOUT_CALLABLE = "portal.lockouts.lockout_response"  # the page, with Retry-After
# Its reset (manage.py axes_reset and the like) is an audited unlock (portal/lockouts.py).
AXES_HANDLER = "portal.lockouts.AuditedAxesHandler"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Kept out of the request data django-axes stores with a failed attempt (the password always is).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token", "token"]

REQUIRE_ADMIN_MFA = env.bool("REQUIRE_ADMIN_MFA", default=False)
# Setting up or replacing a second factor, or new recovery codes, need the password typed in
# this session within this many seconds (signing in counts).
REAUTH_MAX_AGE_SECONDS = env.int("REAUTH_MAX_AGE_SECONDS", default=300)
# Failed sign-ins, wrong codes, lockouts, refused requests and reset requests recorded in the
# audit trail per person-or-address and minute, and in total; the rest are only logged.
SECURITY_EVENTS_PER_MINUTE = env.int("SECURITY_EVENTS_PER_MINUTE", default=10)
SECURITY_EVENTS_PER_MINUTE_TOTAL = env.int("SECURITY_EVENTS_PER_MINUTE_TOTAL", default=100)
# Failed sign-ins an account takes in an hour from all addresses but the person's familiar ones
# (NIST SP 800-63B §5.2.2: at most 100; portal/account_limit.py).
SIGNIN_FAILURES_PER_ACCOUNT_PER_HOUR = env.int("SIGNIN_FAILURES_PER_ACCOUNT_PER_HOUR", default=100)
# Failed sign-ins from one client (an address; an IPv6 /64) an hour, whatever the username,
# before its sign-ins wait (portal.account_limit.seconds_client_held): password spraying.
SIGNIN_FAILURES_PER_CLIENT_PER_HOUR = env.int("SIGNIN_FAILURES_PER_CLIENT_PER_HOUR", default=100)
# Password reset e-mails: requests per e-mail address and per client address and hour, and
# how long a link stays valid (it also stops working once used).
PASSWORD_RESETS_PER_EMAIL_PER_HOUR = env.int("PASSWORD_RESETS_PER_EMAIL_PER_HOUR", default=3)
PASSWORD_RESETS_PER_CLIENT_PER_HOUR = env.int("PASSWORD_RESETS_PER_CLIENT_PER_HOUR", default=10)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="MSP Portal")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles") if PRODUCTION else None
# Outside production (the demo runs with DEBUG off) WhiteNoise serves straight from the app and
# project static folders, so nothing needs collecting first.
WHITENOISE_USE_FINDERS = not PRODUCTION
# ... and reads them on each request, and the browser asks again each time (answered 304 while
# unchanged): read once at start they came back changed under a running demo at their old
# length, and browsers kept a stylesheet a minute after an upgrade, beside the new pages.
# Production collects them under hashed names, cached for good.
WHITENOISE_MAX_AGE = 0 if not PRODUCTION else 60
WHITENOISE_AUTOREFRESH = not PRODUCTION
# WhiteNoise's default `Access-Control-Allow-Origin: *` would let any site's scripts read the
# static files; the portal's own pages load them from their own origin (CSP 'self', no web
# fonts or modules from elsewhere), which needs no CORS.
WHITENOISE_ALLOW_ALL_ORIGINS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}


def _dev_credential_key(secret: str) -> str:
    return base64.urlsafe_b64encode(
        hashlib.sha256(b"credentials:" + secret.encode()).digest()
    ).decode()


# Fernet keys for directory credentials; the first encrypts, all decrypt (rotation).
CREDENTIAL_KEYS = (
    env.list("CREDENTIAL_KEYS")
    if PRODUCTION
    else env.list("CREDENTIAL_KEYS", default=[_dev_credential_key(SECRET_KEY)])
)

# Celery: Redis when configured, otherwise a broker on the file system that needs no server
# (kombu's, each message written whole first: portal/broker.py). A host name in the URL,
# though the file system broker uses none: kombu warns without one. A redis:// broker is
# kombu's Redis transport with one client kept a channel (portal/broker.py); other schemes
# (rediss, sentinel, amqp) are kombu's own.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost/")
FILESYSTEM_BROKER = CELERY_BROKER_URL.startswith("filesystem")
CELERY_BROKER_TRANSPORT = (
    "portal.broker:Transport"
    if FILESYSTEM_BROKER
    else "portal.broker:RedisTransport"
    if CELERY_BROKER_URL.startswith("redis://")
    else None
)
CELERY_BROKER_DIR = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
    if FILESYSTEM_BROKER
    else {}
)
if CELERY_BROKER_TRANSPORT_OPTIONS:
    for folder in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes a worker's database connection before and after every task
# unless this is set, and a new PostgreSQL connection costs more than most tasks. Workers keep
# theirs instead (portal/celery.py), each dropped when older than WORKER_DB_CONN_MAX_AGE
# seconds or broken.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=100_000)
WORKER_DB_CONN_MAX_AGE = env.int("WORKER_DB_CONN_MAX_AGE", default=300)
# On PostgreSQL, a worker sends its statements with server-side binding and prepares one once
# its connection has run it this many times (psycopg's `prepare_threshold`; portal/celery.py).
# Negative: neither, as in the web process (so behind a transaction-mode pooler that cannot
# hold prepared statements, such as PgBouncer before 1.21).
WORKER_PREPARE_THRESHOLD = env.int("WORKER_PREPARE_THRESHOLD", default=1)
# A worker given a pid here shuts down once that process is gone, checking every
# WORKER_WATCH_SECONDS (portal/watchdog.py): the tests' workers end with the test run.
WORKER_ENDS_WITH_PID = env.int("WORKER_ENDS_WITH_PID", default=0)
WORKER_WATCH_SECONDS = env.float("WORKER_WATCH_SECONDS", default=1.0)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "resume-stalled-jobs": {"task": "provisioning.tasks.resume_stalled_jobs", "schedule": 60.0},
    "start-due-jobs": {"task": "provisioning.tasks.start_due_jobs", "schedule": 30.0},
    "access-request-clock": {"task": "provisioning.tasks.access_request_clock", "schedule": 60.0},
    "summarise-unrecorded-events": {
        "task": "provisioning.tasks.summarise_unrecorded_events",
        "schedule": 60.0,
    },
    "audit-retention": {"task": "tenants.tasks.apply_audit_retention", "schedule": 3600.0},
    "licence-snapshots": {"task": "reports.tasks.refresh_licence_snapshots", "schedule": 900.0},
    "reconcile-people": {
        "task": "provisioning.tasks.reconcile_due_people",
        "schedule": float(env.int("RECONCILE_TICK_SECONDS", default=60)),
    },
    "refresh-inventories": {
        "task": "provisioning.inventory.tasks.refresh_due_inventories",
        "schedule": float(env.int("INVENTORY_TICK_SECONDS", default=60)),
    },
    "probe-quarantined-connections": {
        "task": "provisioning.quarantine.probe_due_connections",
        "schedule": 30.0,
    },
    "forget-old-idempotent-responses": {
        "task": "provisioning.api.tasks.forget_old_idempotent_responses",
        "schedule": 3600.0,
    },
    "forget-old-events": {
        "task": "provisioning.events.tasks.forget_old_events",
        "schedule": 3600.0,
    },
    "send-due-webhook-deliveries": {
        "task": "provisioning.outbound.tasks.send_due_deliveries",
        "schedule": 60.0,
    },
    "check-credential-expiry": {
        "task": "provisioning.alerts.tasks.check_credential_expiry",
        "schedule": crontab(hour=6, minute=0),
    },
    "send-alert-digests": {
        "task": "provisioning.alerts.tasks.send_daily_digests",
        "schedule": crontab(hour=env.int("ALERT_DIGEST_HOUR", default=7), minute=0),
    },
    "wipe-expired-first-sign-ins": {
        "task": "provisioning.first_sign_in.tasks.wipe_expired_first_sign_ins",
        "schedule": 300.0,
    },
}
# Periodic reconciliation: every managed person is read and compared again within this
# interval, spread over the ticks; drift found is converged and recorded.
RECONCILE_INTERVAL_SECONDS = env.int("RECONCILE_INTERVAL_SECONDS", default=12 * 3600)
RECONCILE_TICK_SECONDS = env.int("RECONCILE_TICK_SECONDS", default=60)
# Every connection's inventory (every account of its directory) is read again, incrementally,
# this long after its last read; the beat tick looks for due ones.
INVENTORY_INTERVAL_SECONDS = env.int("INVENTORY_INTERVAL_SECONDS", default=900)
# ... and read in full this long after its last full read: what incremental reads cannot see
# (Okta's deleted users and lastLogin, Entra's signInActivity) is found then.
INVENTORY_FULL_READ_SECONDS = env.int("INVENTORY_FULL_READ_SECONDS", default=86400)
# App assignments have no delta anywhere: an incremental read reads an app's assignments again
# only when they were last read this long ago (full reads always read them).
INVENTORY_APPS_SECONDS = env.int("INVENTORY_APPS_SECONDS", default=3600)
# A stored account id that answers 404 counts as gone only after this long (replication).
REPLICATION_WINDOW_SECONDS = env.int("REPLICATION_WINDOW_SECONDS", default=30)
# A failed leave is retried by the periodic check (provisioning/lifecycle/leave_retries.py):
# the first try this long after it failed, each next one twice as long after the last
# failure, at most the maximum apart, and no more than the limit of tries.
LEAVE_RETRY_FIRST_SECONDS = env.int("LEAVE_RETRY_FIRST_SECONDS", default=300)
LEAVE_RETRY_MAX_SECONDS = env.int("LEAVE_RETRY_MAX_SECONDS", default=6 * 3600)
LEAVE_RETRY_LIMIT = env.int("LEAVE_RETRY_LIMIT", default=10)
# Rounds of apply and read-back before a job gives up on converging.
RECONCILE_MAX_ROUNDS = env.int("RECONCILE_MAX_ROUNDS", default=4)
# A quarantined connection is probed (one read) this long after it tripped; each failed probe
# doubles the wait, up to the maximum. A probe that succeeds releases it by itself.
QUARANTINE_COOLDOWN_SECONDS = env.int("QUARANTINE_COOLDOWN_SECONDS", default=180)
QUARANTINE_COOLDOWN_MAX_SECONDS = env.int("QUARANTINE_COOLDOWN_MAX_SECONDS", default=1800)
# Refused HR webhook requests per sender address and minute before it gets 429 unrecorded.
HR_WEBHOOK_REFUSALS_PER_MINUTE = env.int("HR_WEBHOOK_REFUSALS_PER_MINUTE", default=30)
# Signed HR webhook requests per tenant and minute (429 with Retry-After beyond): a leaked
# secret or an HR system in a loop cannot queue jobs without end; an HR day's burst (a
# start-of-month wave of hires exported at once) stays well within it.
HR_WEBHOOK_REQUESTS_PER_MINUTE = env.int("HR_WEBHOOK_REQUESTS_PER_MINUTE", default=300)
# Likewise for the inbound SCIM endpoint (a wrong or another tenant's token).
SCIM_REFUSALS_PER_MINUTE = env.int("SCIM_REFUSALS_PER_MINUTE", default=30)
# Requests a minute per live SCIM token (429 with Retry-After beyond): an identity provider's
# full sync is bursty, so the default is well above the REST API's.
SCIM_REQUESTS_PER_MINUTE = env.int("SCIM_REQUESTS_PER_MINUTE", default=600)
# Likewise for the REST API (an unknown, revoked or expired token).
API_REFUSALS_PER_MINUTE = env.int("API_REFUSALS_PER_MINUTE", default=30)
# Refusals each of them (HR webhook, SCIM, API) records a minute from all senders together;
# past it they are answered as before and only logged (provisioning/refusals.py).
REFUSALS_RECORDED_PER_MINUTE = env.int("REFUSALS_RECORDED_PER_MINUTE", default=100)
# Days an event (what webhooks and alert e-mails told) is kept, with its delivery log.
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=180)
# Requests a minute per API token (429 with Retry-After beyond).
API_REQUESTS_PER_MINUTE = env.int("API_REQUESTS_PER_MINUTE", default=120)
# "Send a test event" and "Redeliver" a minute per person (429 with Retry-After beyond): each
# makes a request to the endpoint's host, which a loop of clicks must not flood.
WEBHOOK_SENDS_PER_MINUTE = env.int("WEBHOOK_SENDS_PER_MINUTE", default=10)


def _audit_signing_keys(text: str) -> dict[str, bytes]:
    """ "kid:base64key,..." -> {kid: key}, in the order given (the first signs by default)."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, _, encoded = item.partition(":")
        if not AUDIT_KEY_ID.fullmatch(key_id) or key_id == "sha256-legacy":
            raise ImproperlyConfigured(
                f"AUDIT_SIGNING_KEYS: {key_id!r} is not a key id (1-32 of A-Z a-z 0-9 . _ -)"
            )
        try:
            key = base64.b64decode(encoded.replace("-", "+").replace("_", "/") + "==")
        except ValueError:
            key = b""
        if len(key) < 32:
            raise ImproperlyConfigured(
                f"AUDIT_SIGNING_KEYS: the key of {key_id!r} must be at least 32 bytes, base64"
            )
        keys[key_id] = key
    if not keys:
        raise ImproperlyConfigured("AUDIT_SIGNING_KEYS names no key")
    return keys


def _dev_audit_signing_keys(secret: str) -> str:
    # A fixed label keeps this key apart from every other use of SECRET_KEY; the id carries a
    # fingerprint, so a changed SECRET_KEY shows as an unknown key id, not as edited rows.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal.audit.chain").derive(
        secret.encode()
    )
    return f"dev-{hashlib.sha256(key).hexdigest()[:8]}:{base64.b64encode(key).decode()}"


# The audit trail's HMAC keys (events, chain heads, retention checkpoints): "kid:base64key,...",
# newest first. The first (or AUDIT_SIGNING_KEY_ID) signs; every listed key verifies, so a key
# can rotate; a key removed from the list makes what it signed unverifiable.
AUDIT_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
AUDIT_SIGNING_KEYS = _audit_signing_keys(
    env.str("AUDIT_SIGNING_KEYS")
    if PRODUCTION
    else env.str("AUDIT_SIGNING_KEYS", default=_dev_audit_signing_keys(SECRET_KEY))
)
AUDIT_SIGNING_KEY_ID = env.str("AUDIT_SIGNING_KEY_ID", default=next(iter(AUDIT_SIGNING_KEYS)))
if AUDIT_SIGNING_KEY_ID not in AUDIT_SIGNING_KEYS:
    raise ImproperlyConfigured(
        f"AUDIT_SIGNING_KEY_ID {AUDIT_SIGNING_KEY_ID!r} is not a key id of AUDIT_SIGNING_KEYS"
    )
# Before audit migration 0005 this alone signed retention checkpoints (blank: SECRET_KEY);
# that migration reads it once, to check them before signing them again under the keys above.
AUDIT_SIGNING_KEY = env.str("AUDIT_SIGNING_KEY", default="")
AUDIT_GLOBAL_RETENTION_DAYS = env.int("AUDIT_GLOBAL_RETENTION_DAYS", default=400)
# A job's claim on a worker; a job past its lease is resumed by another worker.
JOB_LEASE_SECONDS = env.int("JOB_LEASE_SECONDS", default=120)
# A web process imports the connectors in the background as it starts, so the first dry run
# does not wait seconds for the okta SDK's models (provisioning/connectors/factory.py).
WARM_CONNECTORS = env.bool("WARM_CONNECTORS", default=False)
# The kinds a process warms (a worker as it starts, a web process with WARM_CONNECTORS). A
# kind left out is imported by its first job instead: the okta SDK's import is some 6 s of
# CPU that a deployment (or a test's worker) with no Okta connection need not pay.
WARM_CONNECTOR_KINDS = env.list("WARM_CONNECTOR_KINDS", default=["entra", "scim", "okta"])

# Outside production sent e-mails are kept in the database for MSP admins to read (the outbox,
# tenants/outbox/); those carrying a one-time link are kept without their body, which goes to
# the console (stderr) only, as before.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "tenants.outbox.backend.OutboxBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")
# The portal's own address, for links in e-mails.
PORTAL_URL = env.str("PORTAL_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}")

# The sandbox clouds (sandbox/): where `runsandbox` listens and the CA the portal trusts for it.
# Connections may use the sandbox's origin (scheme, host, port) only while this is set; in
# production it is unset unless configured (tenants/endpoints.py).
SANDBOX_URL = env.str("SANDBOX_URL", default="" if PRODUCTION else "https://127.0.0.1:8765")
SANDBOX_CONTROL_TOKEN = env.str("SANDBOX_CONTROL_TOKEN", default="sandbox-demo-control-token")
SANDBOX_CA_FILE = Path(env.str("SANDBOX_CA_FILE", default=str(VAR_DIR / "sandbox" / "ca.pem")))
# Host names of custom Okta domains (e.g. login.fabrikam.com) a connection's org URL may use,
# besides <org>.okta.com and Okta's other domains; public hosts only (tenants/endpoints.py).
OKTA_CUSTOM_DOMAINS = env.list("OKTA_CUSTOM_DOMAINS", default=[])

MSP_NAME = env.str("MSP_NAME", default="Bluewater IT")

SESSION_COOKIE_HTTPONLY = True
# Twelve hours from sign-in (or the session's last change), not Django's two weeks: NIST SP
# 800-63B asks a new sign-in of AAL2 sessions at least every 12 hours.
SESSION_COOKIE_AGE = env.int("SESSION_MAX_AGE_SECONDS", default=12 * 3600)
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True  # htmx sends the token from the page (hx-headers on <body>)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CSRF_FAILURE_VIEW = "portal.errors.csrf_failure"

# No inline script, style or event handler anywhere: htmx comes from django-htmx's static file
# and its indicator styles from our CSS (htmx-config in base.html), behaviour from static/js.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}
# Browser features the portal never uses, denied to it and to anything it could be made to embed.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
    )
}

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# Django logs answers 4xx as WARNING and 5xx as ERROR (django.request; django.server is
# runserver's access log): ERROR keeps only the server's own failures (the demo sets it).
REQUEST_LOG_LEVEL = env.str("REQUEST_LOG_LEVEL", default=LOG_LEVEL)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # A 403 or 404 is an answer, not a failure: its line stays, its traceback goes.
    "filters": {
        "no_4xx_tracebacks": {"()": "portal.logs.DropClientErrorTracebacks"},
        "hide_secret_paths": {"()": "portal.logs.HideSecretPaths"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["no_4xx_tracebacks"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own console handler (DEBUG only) would print each record a second time.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.request": {"level": REQUEST_LOG_LEVEL, "filters": ["hide_secret_paths"]},
        "django.server": {"level": REQUEST_LOG_LEVEL, "filters": ["hide_secret_paths"]},
        "django.security.csrf": {"filters": ["hide_secret_paths"]},
        "django.db.backends": {"level": "WARNING"},
        # At DEBUG it logs each variable a template misses with the whole context: a clear
        # API token, recovery codes, a reset link's path (tests/security/test_debug_logs_...).
        "django.template": {"level": "INFO"},
        "axes": {"level": "WARNING"},
        # The SDKs log every request at INFO; keep the logs about our own work.
        "azure": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},  # the SCIM connector's: its URLs carry usernames
        "okta-sdk-python": {"level": "WARNING"},
    },
}
