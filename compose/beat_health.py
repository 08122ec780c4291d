"""Container health check of beat with celery-redbeat (both compose files).

Several beats share one schedule in Redis; the one holding redbeat's lock sends the tasks, the
others wait for the lock. Healthy = the shared schedule is served: its most overdue entry (the
lowest score of redbeat's schedule sorted set, a UNIX time) is at most STALE_SECONDS in the past.
The relay is due every 2 s, so a schedule 120 s behind means no beat is sending. Whether this
container's beat is the sender or a standby, its process is the container's main one: if it
exits, the container restarts. Runs as
`env -u PROMETHEUS_MULTIPROC_DIR python /app/compose/beat_health.py`.
"""

import sys
import time

STALE_SECONDS = 120


def main() -> int:
    from redbeat.schedulers import RedBeatConfig, get_redis

    from read_indexer.celery_app import app

    try:
        due = get_redis(app).zrangebyscore(RedBeatConfig(app).schedule_key, 0, "+inf", start=0, num=1, withscores=True)
    except Exception as exc:  # Redis down or unreachable
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if not due:
        print("unhealthy: redbeat's schedule is empty (no beat has started)", file=sys.stderr)
        return 1
    late = time.time() - due[0][1]
    if late > STALE_SECONDS:
        print(f"unhealthy: the schedule's next entry is {late:.0f} s overdue", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
