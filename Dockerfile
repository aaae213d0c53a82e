# The production image: gunicorn for the web, the same image runs the Celery worker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    EVALAPP_VAR_DIR=/app/var STATIC_ROOT=/app/staticfiles
WORKDIR /app

COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

COPY . .
# collectstatic needs settings but no database or real secret.
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput -v0 \
    && useradd --system --uid 10001 evalapp && mkdir -p /app/var && chown -R evalapp /app/var
USER evalapp

EXPOSE 8000
CMD ["gunicorn", "evalapp.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
