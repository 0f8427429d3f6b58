#!/bin/sh
# First start of the compose file's PostgreSQL only: the application role, which the web and
# worker processes connect as. It owns nothing; `migrate` (as the owner) grants it its rights.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_password="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE hospital_app LOGIN PASSWORD :'app_password';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
