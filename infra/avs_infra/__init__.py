"""The Pulumi program of anime-vector-service: every cloud resource of one environment.

Built from the topology catalogue (:mod:`avs_shared.topology`): the bucket, tables,
topics, queues, subscriptions, state machine and schedules carry the catalogue's names,
so the code that runs against moto, LocalStack or AWS finds them by the same names.
One stack per environment (``dev``, ``staging``, ``prod``), each in its own AWS
account: the catalogue's names are the same in every account.

Entry point: ``infra/__main__.py`` (what ``pulumi up`` runs) calls :func:`avs_infra.program.build`.
Importing this package creates no resource.
"""
