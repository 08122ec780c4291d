"""Contracts shared by write_service, read_indexer and search_api. Imports none of them."""
