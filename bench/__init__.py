"""Side-by-side benchmarks of the architecture: `bench/run --scale small|full`.

Everything here runs in its own namespace (database, Redis databases, index prefix, ports; see
bench/namespace.py), so it never touches the demo or the test suite's data. May touch: that
namespace only, plus read-only statistics views (pg_stat_statements, Elasticsearch stats).
"""
