"""The batch service (``cutstream batches``): the planner turns a batch's source into
requests on the bulk lane, the tracker turns their outcomes into counts, the results
manifest and ``batch.completed``. See :mod:`streams.batches.app`."""
