"""What the pipeline records about itself as it runs (lag samples, task and drift metrics, queue
depths); read_indexer/operations/ reads them for operators."""
