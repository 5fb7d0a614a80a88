"""The public contract as pydantic models: events (``schemas.events``), removal options
(``schemas.options``), job records (``schemas.jobs``), webhook payloads
(``schemas.webhooks``), error codes (``schemas.errors``), API bodies (``schemas.api``).

Import the module you need; this package re-exports nothing, so loading one model does not
load them all. Pipelines import the supported names from the ``cutstream`` package.
"""
