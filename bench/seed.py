"""Bulk seeding: generated rows COPYed into PostgreSQL, then projected into Elasticsearch through
the product's own projections (write_service.read_model.projections) in parallel processes.

Distributions (deterministic, one random seed):
- assessment popularity is Zipf(s) (scales.py): at full scale the top assessment has ~134k
  attempts, so broad filters match >= 100k rows, while tail assessments have a few hundred;
- one organisation (id 1, "the big organisation") owns the top assessment and ~30% of the rest,
  so a staff member's attempts list is broad too;
- attempts are interleaved across assessments in time (ids rise with started_at), 90% submitted,
  scores normal around a per-difficulty mean (one decimal, so ties exist), time taken 15-100% of
  the duration (whole seconds, so equal score and time ties exist too);
- posts belong to their author's organisation, 60% discuss one of its assessments, comments per
  post are exponential with mean ~1 and counters are exact.
Seeded rows bypass the outbox (like an import): the COPYs run with the capture triggers disabled
in their own transaction (re-enabled before it commits; a failure rolls both back), so they record
no change rows, and the counters, seeded exact, are not counted again. The read side gets them by
projection here.
"""

from __future__ import annotations

import io
import random
import secrets
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context

from bench import database
from bench.scales import Scale

WORDS = (
    "graph",
    "query",
    "index",
    "latency",
    "cache",
    "join",
    "window",
    "function",
    "tree",
    "heap",
    "stream",
    "batch",
    "vector",
    "matrix",
    "string",
    "parser",
    "lexer",
    "network",
    "socket",
    "thread",
    "lock",
    "queue",
    "shard",
    "replica",
    "backup",
    "schema",
    "migration",
    "sorting",
    "search",
    "binary",
    "hash",
    "recursion",
    "closure",
    "pattern",
    "design",
    "pipeline",
    "kernel",
    "memory",
    "pointer",
    "array",
    "interval",
    "greedy",
    "dynamic",
    "programming",
    "security",
    "token",
    "session",
    "cookie",
    "deploy",
)
TAGS = (
    "sql",
    "python",
    "java",
    "go",
    "rust",
    "algorithms",
    "graphs",
    "dp",
    "system-design",
    "react",
    "css",
    "security",
    "networking",
    "linux",
    "docker",
    "kubernetes",
    "statistics",
    "ml",
    "excel",
    "communication",
)
FIRST = (
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Barbara",
    "Ken",
    "Dennis",
    "Margaret",
    "Edsger",
    "Donald",
    "Frances",
    "John",
    "Radia",
    "Tim",
    "Guido",
    "Bjarne",
    "Anita",
    "Leslie",
    "Shafi",
    "Yukihiro",
)
LAST = (
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Liskov",
    "Thompson",
    "Ritchie",
    "Hamilton",
    "Dijkstra",
    "Knuth",
    "Allen",
    "Backus",
    "Perlman",
    "Berners-Lee",
    "van Rossum",
    "Stroustrup",
    "Borg",
    "Lamport",
    "Goldwasser",
    "Matsumoto",
)
DIFFICULTY_MEAN = {"easy": 72.0, "medium": 62.0, "hard": 50.0}
BIG_ORG = 1
BIG_ORG_SHARE = 0.3
PASSWORD = "bench-password-1"


@dataclass
class SeedInfo:
    scale: str
    counts: dict[str, int]
    seconds: dict[str, float]
    top_assessment: int
    top_assessment_submitted: int
    big_org: int
    assessment_sizes: dict[int, int]  # submitted attempts per assessment
    assessment_org: dict[int, int]
    hot_posts: dict[str, int]  # "pipeline"/"naive" -> post id
    tokens: dict[str, str] = field(default_factory=dict)  # role -> token
    writer_tokens: list[str] = field(default_factory=list)  # 16 members of the big organisation
    # (started attempt id, its candidate's token, its assessment): the lag phase's submissions,
    # `top_share` of them on the top assessment (the largest leaderboard), in a shuffled order
    submit_jobs: list[tuple[int, str, int]] = field(default_factory=list)
    doc_write_jobs: list[tuple[int, str]] = field(default_factory=list)  # started attempts of the top assessment


def _copy(cursor, table: str, columns: tuple[str, ...], rows) -> int:
    """COPY rows (tuples of already-formatted text fields, None for NULL) in chunks."""
    buffer, count = io.StringIO(), 0

    def flush():
        buffer.seek(0)
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
        buffer.seek(0)
        buffer.truncate()

    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row))
        buffer.write("\n")
        count += 1
        if count % 200_000 == 0:
            flush()
    flush()
    return count


def _ts(value: datetime) -> str:
    return value.isoformat()


def _array(values) -> str:
    return "{" + ",".join(values) + "}"


def _zipf_counts(total: int, n: int, s: float, cap: int) -> list[int]:
    weights = [1 / (i**s) for i in range(1, n + 1)]
    scale = total / sum(weights)
    counts = [min(cap, int(w * scale)) for w in weights]
    i = 0
    while sum(counts) < total:  # hand the rounding remainder to the most popular with room
        if counts[i % n] < cap:
            counts[i % n] += 1
        i += 1
    return counts


USER_COLUMNS = tuple(
    "id password last_login is_superuser username first_name last_name email is_staff is_active "
    "date_joined version organisation_id role display_name".split()
)
ASSESSMENT_COLUMNS = tuple(
    "id version organisation_id title description tags difficulty status cut_off max_score "
    "duration_minutes created_by_id created_at updated_at deleted_at attempts_count submitted_count".split()
)
ATTEMPT_COLUMNS = ("id", "version", "assessment_id", "candidate_id", "started_at", "submitted_at", "score", "status")
POST_COLUMNS = tuple(
    "id version organisation_id author_id assessment_id title body tags created_at updated_at deleted_at "
    "comments_count last_activity_at".split()
)
COMMENT_COLUMNS = ("id", "version", "post_id", "author_id", "body", "created_at", "deleted_at")
SEEDED_TABLES = (
    "accounts_organisation",
    "accounts_user",
    "assessments_assessment",
    "assessments_attempt",
    "discussions_post",
    "discussions_comment",
)


@dataclass
class _Generation:
    """The state the generators share. One random stream, drawn in a fixed order, so every run of
    a scale seeds the same rows."""

    scale: Scale
    rng: random.Random
    window_start: datetime
    window_end: datetime  # older than the counters' reconcile window (15 min)
    members: dict[int, list[int]] = field(default_factory=dict)  # organisation -> its users
    candidate_ids: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # attempts per assessment (index = id - 1)
    assessment_org: dict[int, int] = field(default_factory=dict)
    difficulty: dict[int, str] = field(default_factory=dict)
    cut_off: dict[int, int] = field(default_factory=dict)
    duration: dict[int, int] = field(default_factory=dict)
    status: dict[int, str] = field(default_factory=dict)
    submitted_count: dict[int, int] = field(default_factory=dict)
    started_attempts: list[tuple[int, int, int]] = field(default_factory=list)  # (attempt, assessment, candidate)

    @property
    def span(self) -> float:
        return (self.window_end - self.window_start).total_seconds()

    def org_for(self) -> int:
        n_orgs = self.scale.organisations
        return BIG_ORG if self.rng.random() < BIG_ORG_SHARE or n_orgs == 1 else self.rng.randint(2, n_orgs)


def generate_and_copy(scale: Scale) -> SeedInfo:
    now = datetime.now(UTC).replace(microsecond=0)
    gen = _Generation(scale, random.Random(20240826), now - timedelta(days=365), now - timedelta(hours=1))
    timings: dict[str, float] = {}
    started = time.monotonic()
    conn = database.primary_connection()
    cursor = conn.cursor()
    database.alter_capture(cursor, enabled=False)  # this transaction only: see the module docstring
    users = _copy_organisations_and_users(cursor, gen)
    _plan_assessments(gen)
    t0 = time.monotonic()
    attempts = _copy_attempts(cursor, gen)
    timings["attempts_copy"] = time.monotonic() - t0
    _copy_assessments(cursor, gen)
    t0 = time.monotonic()
    posts, comments, hot_posts = _copy_posts_and_comments(cursor, gen)
    timings["posts_copy"] = time.monotonic() - t0
    for table in SEEDED_TABLES:
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: check them now, as ALTER TABLE
    # refuses a table with pending trigger events.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    database.alter_capture(cursor, enabled=True)
    conn.commit()
    timings["generate_and_copy"] = time.monotonic() - started
    t0 = time.monotonic()
    _tune_for_the_orm_baseline(conn, cursor)
    timings["index_and_vacuum"] = time.monotonic() - t0
    conn.close()
    return SeedInfo(
        scale=scale.name,
        counts={
            "organisations": scale.organisations,
            "users": users,
            "assessments": scale.assessments,
            "attempts": attempts,
            "posts": posts,
            "comments": comments,
        },
        seconds=timings,
        top_assessment=1,
        top_assessment_submitted=gen.submitted_count[1],
        big_org=BIG_ORG,
        assessment_sizes=gen.submitted_count,
        assessment_org=gen.assessment_org,
        hot_posts=hot_posts,
        submit_jobs=[(a, str(c), aid) for a, aid, c in gen.started_attempts],  # candidate ids; tokens later
    )


def _user_row(user_id: int, password_hash: str, joined: datetime, organisation: int, role: str, name: str) -> tuple:
    username = f"bench-staff-{user_id}" if role == "staff" else f"bench-cand-{user_id}"
    return (user_id, password_hash, None, "f", username, "", "", "", "f", "t", _ts(joined), 1, organisation, role, name)


def _copy_organisations_and_users(cursor, gen: _Generation) -> int:
    """One staff member per organisation (user id == organisation id), then the candidates."""
    from django.contrib.auth.hashers import make_password

    n_orgs, founded = gen.scale.organisations, gen.window_start - timedelta(days=60)
    _copy(
        cursor,
        "accounts_organisation",
        ("id", "version", "name", "created_at"),
        ((o, 1, f"Bench Org {o}", _ts(founded)) for o in range(1, n_orgs + 1)),
    )
    password_hash = make_password(PASSWORD)
    gen.members = {o: [o] for o in range(1, n_orgs + 1)}
    user_rows = [_user_row(o, password_hash, founded, o, "staff", f"Staff {o}") for o in range(1, n_orgs + 1)]
    gen.candidate_ids = list(range(n_orgs + 1, n_orgs + 1 + gen.scale.candidates))
    for uid in gen.candidate_ids:
        organisation = gen.org_for()
        gen.members[organisation].append(uid)
        name = f"{gen.rng.choice(FIRST)} {gen.rng.choice(LAST)}"
        user_rows.append(
            _user_row(uid, password_hash, gen.window_start - timedelta(days=30), organisation, "candidate", name)
        )
    _copy(cursor, "accounts_user", USER_COLUMNS, user_rows)
    return len(user_rows)


def _plan_assessments(gen: _Generation) -> None:
    """Owner, difficulty, cut-off, duration, status and Zipf size of every assessment."""
    scale, rng = gen.scale, gen.rng
    n_drafts = max(1, scale.assessments // 20)  # the tail's last 5% are drafts, never attempted
    attempted = scale.assessments - n_drafts
    gen.sizes = _zipf_counts(scale.attempts, attempted, scale.zipf_s, cap=scale.candidates) + [0] * n_drafts
    for aid in range(1, scale.assessments + 1):
        gen.assessment_org[aid] = BIG_ORG if aid == 1 else gen.org_for()
        gen.difficulty[aid] = rng.choices(("easy", "medium", "hard"), (3, 5, 2))[0]
        gen.cut_off[aid] = rng.randint(50, 75)
        gen.duration[aid] = rng.choice((30, 45, 60, 90, 120))
        gen.status[aid] = (
            "draft" if gen.sizes[aid - 1] == 0 else ("archived" if aid > 10 and rng.random() < 0.1 else "published")
        )
    gen.submitted_count = {aid: 0 for aid in gen.assessment_org}


def _copy_attempts(cursor, gen: _Generation) -> int:
    """Every (assessment, candidate) pair, shuffled so ids interleave assessments in time."""
    rng = gen.rng
    pairs: list[tuple[int, int]] = []
    for aid, n in enumerate(gen.sizes, start=1):
        if n:
            pairs.extend((aid, c) for c in rng.sample(gen.candidate_ids, n))
    rng.shuffle(pairs)
    mean_offset = {aid: rng.uniform(-8, 8) for aid in gen.assessment_org}

    def attempt_rows():
        for i, (aid, cand) in enumerate(pairs):
            attempt_id = i + 1
            started_at = gen.window_start + timedelta(seconds=gen.span * i / len(pairs) + rng.uniform(0, 30))
            if rng.random() < 0.9:
                mean = DIFFICULTY_MEAN[gen.difficulty[aid]] + mean_offset[aid]
                score = min(100.0, max(0.0, round(rng.gauss(mean, 15), 1)))
                taken = int(gen.duration[aid] * 60 * rng.uniform(0.15, 1.0))
                gen.submitted_count[aid] += 1
                submitted_at = _ts(started_at + timedelta(seconds=taken))
                yield (attempt_id, 2, aid, cand, _ts(started_at), submitted_at, f"{score:.2f}", "submitted")
            else:
                if gen.status[aid] == "published":
                    gen.started_attempts.append((attempt_id, aid, cand))
                yield (attempt_id, 1, aid, cand, _ts(started_at), None, None, "started")

    _copy(cursor, "assessments_attempt", ATTEMPT_COLUMNS, attempt_rows())
    return len(pairs)


def _copy_assessments(cursor, gen: _Generation) -> None:
    """After the attempts: each row carries its attempts and submitted counts."""
    rng, rows = gen.rng, []
    for aid in range(1, gen.scale.assessments + 1):
        organisation = gen.assessment_org[aid]
        created = _ts(gen.window_start - timedelta(days=rng.uniform(1, 30)))
        title = f"{' '.join(rng.choice(WORDS) for _ in range(rng.randint(2, 4))).title()} #{aid}"
        description = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 30)))
        tags = _array(sorted(set(rng.sample(TAGS, rng.randint(1, 3)))))
        rows.append(
            (aid, 1, organisation, title, description, tags, gen.difficulty[aid], gen.status[aid])
            + (f"{gen.cut_off[aid]}.00", "100.00", gen.duration[aid], organisation, created, created, None)
            + (gen.sizes[aid - 1], gen.submitted_count[aid])
        )
    _copy(cursor, "assessments_assessment", ASSESSMENT_COLUMNS, rows)


def _copy_posts_and_comments(cursor, gen: _Generation) -> tuple[int, int, dict[str, int]]:
    """Posts (60% on one of their organisation's assessments) with exact comment counters, then the
    two hot posts of the hot-counter stage: (posts, comments, {"pipeline"|"naive": post id})."""
    rng, scale = gen.rng, gen.scale
    org_assessments: dict[int, list[int]] = {o: [] for o in gen.members}
    for aid, organisation in gen.assessment_org.items():
        org_assessments[organisation].append(aid)
    post_rows, comment_rows = [], []
    for pid in range(1, scale.posts + 1):
        organisation = gen.org_for()
        author = rng.choice(gen.members[organisation])
        created = gen.window_start + timedelta(seconds=gen.span * (pid - 1) / scale.posts)
        own = org_assessments[organisation]
        linked = rng.choice(own) if own and rng.random() < 0.6 else None
        n_comments = int(rng.expovariate(1 / 1.5))
        last_activity = created
        for _ in range(n_comments):
            at = min(gen.window_end, created + timedelta(seconds=rng.uniform(60, 7 * 86400)))
            last_activity = max(last_activity, at)
            commenter = rng.choice(gen.members[organisation])  # before the body: the draw order fixes the rows
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 25)))
            comment_rows.append((len(comment_rows) + 1, 1, pid, commenter, body, _ts(at), None))
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 8))).capitalize()
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 80)))
        tags = _array(sorted(set(rng.sample(TAGS, rng.randint(0, 3)))))
        post_rows.append(
            (pid, 1, organisation, author, linked, title, body, tags, _ts(created), _ts(created), None)
            + (n_comments, _ts(last_activity))
        )
    hot_posts = {}
    for kind in ("pipeline", "naive"):  # comment targets of the hot-counter stage
        pid = len(post_rows) + 1
        hot_posts[kind] = pid
        quiet_since = _ts(gen.window_end)
        post_rows.append(
            (pid, 1, BIG_ORG, BIG_ORG, None, f"Hot post ({kind})", "Comment here, everyone.", "{}", quiet_since)
            + (quiet_since, None, 0, quiet_since)
        )
    _copy(cursor, "discussions_post", POST_COLUMNS, post_rows)
    _copy(cursor, "discussions_comment", COMMENT_COLUMNS, comment_rows)
    return len(post_rows), len(comment_rows), hot_posts


def _tune_for_the_orm_baseline(conn, cursor) -> None:
    """The ORM baseline's lists need one more index than the product's write-side schema has (the
    product serves these lists from Elasticsearch). Then statistics and the visibility map, so
    COUNT(*) can be an index-only scan."""
    cursor.execute(
        "CREATE INDEX bench_orm_attempt_status_submitted ON assessments_attempt (status, submitted_at DESC, id)"
    )
    conn.commit()
    conn.autocommit = True
    cursor.execute("VACUUM (ANALYZE)")


# Tokens ----------------------------------------------------------------------------------------


def issue_tokens(info: SeedInfo, *, submit_jobs_needed: int, top_share: float = 0.8, doc_write_jobs: int = 50) -> None:
    """API tokens without password checks: ApiToken rows plus the Redis auth cache, as token_issue does.

    Started attempts to submit (one per candidate): `doc_write_jobs` of the top assessment for the
    documents-per-submission measurement, then `submit_jobs_needed` for the lag phase, `top_share`
    of them on the top assessment (the largest leaderboard) and the rest on the others."""
    from django.utils import timezone as dj_timezone

    from shared.auth_cache import token_hash
    from write_service.accounts import auth_cache
    from write_service.accounts.models import ApiToken, User

    wanted: dict[str, int] = {}
    wanted["big_org_staff"] = info.big_org
    members = list(
        User.objects.filter(organisation_id=info.big_org, role="candidate")
        .order_by("id")
        .values_list("id", flat=True)[:15]
    )
    reader = User.objects.filter(role="candidate").exclude(organisation_id=info.big_org).order_by("id").first()
    wanted["candidate_reader"] = reader.pk
    rng = random.Random(7)
    jobs = list(info.submit_jobs)
    rng.shuffle(jobs)
    top = [(a, int(c), aid) for a, c, aid in jobs if aid == info.top_assessment]
    rest = [(a, int(c), aid) for a, c, aid in jobs if aid != info.top_assessment]
    seen: set[int] = set()

    def take(pool: list, n: int) -> list:
        out = []
        while pool and len(out) < n:
            job = pool.pop()
            if job[1] not in seen:
                seen.add(job[1])
                out.append(job)
        return out

    doc_writes = take(top, doc_write_jobs)
    on_top = take(top, round(top_share * submit_jobs_needed))
    chosen = on_top + take(rest, submit_jobs_needed - len(on_top))
    chosen += take(top, submit_jobs_needed - len(chosen))  # too few elsewhere (never at the two scales)
    rng.shuffle(chosen)  # every phase gets the same mix
    chosen_candidates = [c for _, c, _ in chosen + doc_writes]
    user_ids = {*wanted.values(), *members, *chosen_candidates}
    users = {u.pk: u for u in User.objects.filter(pk__in=user_ids)}
    now = dj_timezone.now()
    raw = {uid: secrets.token_urlsafe(32) for uid in users}
    tokens = ApiToken.objects.bulk_create(
        [
            ApiToken(key_hash=token_hash(raw[uid]), user_id=uid, created_at=now, expires_at=now + timedelta(days=2))
            for uid in users
        ]
    )
    for token in tokens:
        auth_cache.cache_token(raw[token.user_id], token)
        auth_cache.cache_user(users[token.user_id])
    info.tokens = {role: raw[uid] for role, uid in wanted.items()}
    info.writer_tokens = [raw[info.big_org], *(raw[uid] for uid in members)]
    info.submit_jobs = [(attempt_id, raw[c], aid) for attempt_id, c, aid in chosen]
    info.doc_write_jobs = [(attempt_id, raw[c]) for attempt_id, c, _ in doc_writes]


# Projection into Elasticsearch -----------------------------------------------------------------


def _worker_init() -> None:
    # Forked from a parent that closed its database connections; drop its Elasticsearch client so
    # no HTTP socket is shared between processes.
    from shared.es_client import get_es_client

    get_es_client.cache_clear()


def _project(kind: str, arg) -> tuple[str, int]:
    from django.db import connections

    from read_indexer.projection.indexing import index_documents
    from write_service.read_model.projections import PROJECTIONS

    try:
        documents = PROJECTIONS[kind].project(arg)
        index_documents(PROJECTIONS[kind].index.alias, documents, chunk_size=1000)
        return kind, len(documents)
    finally:
        connections.close_all()


def project_all(info: SeedInfo, processes: int) -> dict[str, float]:
    """Every row through the product's projections, in parallel processes (forked, no shared sockets)."""
    from django.db import connections

    from shared.es_client import get_es_client
    from shared.indexes import ALL_INDEXES

    es = get_es_client()
    physical = {name: next(iter(es.indices.get_alias(name=d.alias).body)) for name, d in ALL_INDEXES.items()}
    es.indices.put_settings(index=",".join(physical.values()), settings={"index": {"refresh_interval": "-1"}})
    jobs: list[tuple[str, object]] = []
    attempt_ids = list(range(1, info.counts["attempts"] + 1))  # each document from its own row: pages by id
    jobs += [("attempts", attempt_ids[i : i + 5000]) for i in range(0, len(attempt_ids), 5000)]
    ids = list(range(1, info.counts["assessments"] + 1))
    jobs += [("assessments", ids[i : i + 500]) for i in range(0, len(ids), 500)]
    post_ids = list(range(1, info.counts["posts"] + 1))
    jobs += [("posts", post_ids[i : i + 2000]) for i in range(0, len(post_ids), 2000)]
    comment_ids = list(range(1, info.counts["comments"] + 1))
    jobs += [("comments", comment_ids[i : i + 5000]) for i in range(0, len(comment_ids), 5000)]
    started = time.monotonic()
    written: dict[str, int] = {}
    connections.close_all()
    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("fork"), initializer=_worker_init) as pool:
        for kind, count in pool.map(_project, [j[0] for j in jobs], [j[1] for j in jobs], chunksize=1):
            written[kind] = written.get(kind, 0) + count
    seconds = time.monotonic() - started
    live = ALL_INDEXES["attempts"].settings()["refresh_interval"]
    es.indices.put_settings(index=",".join(physical.values()), settings={"index": {"refresh_interval": live}})
    es.indices.refresh(index=",".join(physical.values()))
    for name, definition in ALL_INDEXES.items():
        indexed = es.count(index=definition.alias)["count"]
        if indexed != info.counts[name]:
            raise RuntimeError(f"{definition.alias}: {indexed} documents indexed, {info.counts[name]} rows")
    total = sum(written.values())
    merge = _forcemerge(es, list(physical.values()))
    return {
        "seconds": round(seconds, 2),
        "documents": total,
        "docs_per_second": round(total / seconds) if seconds else None,
        "processes": processes,
        "forcemerge": merge,
    }


def _forcemerge(es, indexes: list[str]) -> dict:
    """One segment per seeded index (their shape until the write stages add to them), so the reads
    start with no merge of the seed's segments left to run behind them."""

    def segments() -> int:
        body = es.indices.segments(index=",".join(indexes)).body["indices"]
        return sum(
            len(copy["segments"]) for index in body.values() for shard in index["shards"].values() for copy in shard
        )

    before, started = segments(), time.monotonic()
    es.options(request_timeout=1800).indices.forcemerge(index=",".join(indexes), max_num_segments=1)
    store = es.indices.stats(index=",".join(indexes), metric="store").body["_all"]["primaries"]["store"][
        "size_in_bytes"
    ]
    return {
        "seconds": round(time.monotonic() - started, 2),
        "segments_before": before,
        "segments_after": segments(),
        "store_mib": round(store / 2**20, 1),
    }


def score_threshold_for(assessment_id: int, rank: int) -> float:
    """The score of the `rank`-th best submitted attempt (selective leaderboard filter)."""
    from django.db import connections

    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT score FROM assessments_attempt WHERE assessment_id = %s AND status = 'submitted' "
            "ORDER BY score DESC OFFSET %s LIMIT 1",
            [assessment_id, max(0, rank - 1)],
        )
        row = cursor.fetchone()
    return float(row[0]) if row else 0.0


def selective_assessment(info: SeedInfo, target: int = 300) -> tuple[int, int]:
    """The big organisation's assessment whose qualified count is closest to `target`."""
    from django.db import connections

    with connections["default"].cursor() as cursor:
        cursor.execute(
            """SELECT s.id, COUNT(*) FROM assessments_attempt a JOIN assessments_assessment s ON s.id = a.assessment_id
               WHERE s.organisation_id = %s AND a.status = 'submitted' AND a.score >= s.cut_off
               GROUP BY s.id ORDER BY abs(COUNT(*) - %s), s.id LIMIT 1""",
            [info.big_org, target],
        )
        aid, count = cursor.fetchone()
    return aid, count
