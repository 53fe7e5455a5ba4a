# The app image: web (gunicorn), worker and beat all run from it (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_ENV=production
WORKDIR /app

COPY pyproject.toml requirements.lock ./
COPY portal ./portal
COPY tenants ./tenants
COPY provisioning ./provisioning
COPY sandbox ./sandbox
COPY reports ./reports
RUN pip install --no-cache-dir -c requirements.lock .

COPY manage.py ./
COPY templates ./templates
COPY static ./static
# collectstatic needs settings to load; these throwaway values exist only in this build step.
RUN SECRET_KEY=build-only CREDENTIAL_KEYS=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \
    ALLOWED_HOSTS=localhost STATIC_ROOT=/app/staticfiles python manage.py collectstatic --noinput

RUN useradd --system --uid 1000 portal && mkdir -p /app/var && chown portal /app/var
USER portal
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
