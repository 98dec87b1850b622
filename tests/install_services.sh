#!/bin/sh
# What the offline tests need beyond Python packages: Debian's PostgreSQL server, for the
# throwaway catalog cluster of the scale-out tests (tests/fakes/postgres.py). The S3
# server (moto, tests/fakes/s3.py) comes from requirements-dev.lock.
set -e
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
# Debian's Chromium for the page tests (tests/flows/test_page.py drives it with Playwright; its own
# browser download is not reachable from the build machines).
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
