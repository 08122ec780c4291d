"""write_service settings with the primary's CONN_MAX_AGE taken from BENCH_CONN_MAX_AGE.

The pgBouncer comparison needs combinations shared.config does not offer (it ties CONN_MAX_AGE to
DB_VIA_PGBOUNCER: 0 through pgBouncer, 60 direct): direct connections opened per request
(DB_VIA_PGBOUNCER=false, BENCH_CONN_MAX_AGE=0: what pgBouncer saves us), and persistent client
connections to pgBouncer (DB_VIA_PGBOUNCER=true, BENCH_CONN_MAX_AGE=60).
"""

import os

from write_service.settings.base import *  # noqa: F401,F403
from write_service.settings.base import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ["BENCH_CONN_MAX_AGE"])
