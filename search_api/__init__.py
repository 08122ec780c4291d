"""search_api: the read API (base /search/v1/). Django without a database: it reads Elasticsearch
and Redis only, and imports nothing from write_service. See docs/ARCHITECTURE.md, "The flow of one read".

A read in three files: views.py (HTTP), lists.py (the declarative list schemas: filters,
orderings, facets, row shapes) and query_builder.py (schema + parsed parameters -> search body).
"""
