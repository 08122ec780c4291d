"""Re-project documents by id into every write target of their index."""

from __future__ import annotations

from read_indexer.lifecycle import index_lifecycle
from read_indexer.projection.indexing import index_documents
from write_service.read_model.projections import PROJECTIONS, ProjectedDocument


def write_documents(index_name: str, documents: list[ProjectedDocument]) -> int:
    definition = PROJECTIONS[index_name].index
    written = 0
    for target in index_lifecycle.write_targets(definition):
        written = index_documents(target, documents)
    return written


def project_and_index(index_name: str, ids: list[int]) -> int:
    return write_documents(index_name, PROJECTIONS[index_name].project(ids))
